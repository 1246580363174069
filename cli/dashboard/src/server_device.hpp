#pragma once
// The server's own device: how the dashboard writes a coordinator's choice as a normal event
// that every device then pulls (docs/decisions/0005-coordinator-dashboard.md, "Server-authored
// events"). It is an ordinary enrolled device of role coordinator with no regions, lawyer
// "Caravan server", made once on first use through the registry's own operations (a code, then
// an enrollment whose token is thrown away: no one ever authenticates as it), its id kept in
// the store's meta (Store::server_device). Its events go through EventFeed::push exactly as a
// device's: the same validation, exactly-once, positions, scope and conflict detection.

#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/event_log.hpp"
#include "caravan/sync/server/store.hpp"

namespace caravan::dashboard {

inline constexpr std::string_view k_server_lawyer = "Caravan server";

// The server device's id; "" before its first write (nothing is created here).
[[nodiscard]] Result<std::string> server_device_id(sync::server::Store& store);

// Pushes `events` (entity_type, entity_id, op and payload filled in; device, seq, hlc and
// schema version are set here) as the server's device, creating it first when it does not
// exist yet and preceding its first event with its own `device` record (lawyer "Caravan
// server"), so that pages and `caravan conflicts` on the laptops name it. Must run under the
// server's write lock (Services::with_store(true, ...)).
// seq: the device's acked_seq + 1; hlc: max(the store's clock, the greatest hlc in the feed +
// 1), at most clock_ceiling(now), ascending within the push.
// busy: another server process took the same seq first (PostgreSQL): nothing was written, the
// caller may read again and retry. internal: an event was not accepted (its code is logged by
// the caller, never a value).
[[nodiscard]] Result<void> write_as_server(sync::server::Store& store,
                                           std::vector<storage::Event> events);

} // namespace caravan::dashboard
