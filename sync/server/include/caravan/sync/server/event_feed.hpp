#pragma once
// The server's event feed: the same event log and projections as a device, plus the server's
//   meta              key/value: epoch, created_at
//   rejected_events   events acknowledged with fate "rejected" (never in the change feed)
//   event_scope       per accepted event: reference data or not, and its region (folded)
// (schema: src/store.cpp). The event log's log_position IS the change feed's server_seq.
// It takes pushes in (src/ingest.hpp judges each event), hands out the change feed each device
// may see (its regions, reference data, its own lineage's events), and the digests that verify
// a device's copy.
//
// Contract:
// - An EventFeed works on its Store's connection (Store::feed()) and is used by one thread at a
//   time. push() takes SQLite's write lock (BEGIN IMMEDIATE) and is all-or-nothing: a refused
//   request changes nothing. Reads see one snapshot each.
// - Every operation returns ApiError with the protocol's codes (conflicts(): Error). No message
//   names a person or repeats a field's value.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/client/model.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/api_error.hpp"
#include "caravan/sync/server/device_registry.hpp"

namespace caravan::sync::server {

struct VerifyResult {
    std::int64_t upto = 0;
    std::int64_t count = 0;
    std::string digest;
};

struct StatusResult {
    std::int64_t acked_seq = 0;
    std::int64_t head = 0;
};

class EventFeed {
  public:
    // `db` and `registry` (on the same connection) must outlive the feed; `clock`: Unix ms.
    EventFeed(storage::Database& db, DeviceRegistry& registry, std::function<std::int64_t()> clock);
    EventFeed(const EventFeed&) = delete;
    EventFeed& operator=(const EventFeed&) = delete;

    // The feed's epoch: renewed when the database is restored from a backup, so a device knows
    // its cursor no longer means anything. corrupt when missing.
    [[nodiscard]] Result<std::string> epoch();

    // Checks the request (validate), then judges each event in order under the write lock:
    // a duplicate of one acknowledged before is answered again, a new one accepted into the
    // feed or rejected (stored with its code, acknowledged, never sent). A request-level
    // refusal (forbidden, malformed, upgrade_required, sequence_gap, sequence_conflict,
    // device_rotated, device_revoked) changes nothing. Records the push in the registry.
    [[nodiscard]] ApiResult<PushResponse>
    push(const DeviceRecord& device, const PushRequest& request, const SyncReport& report);
    // `epoch`: the device's, empty when it has none. limit is clamped to the protocol's maximum.
    // `own_upto`: the device holds its own events (its current id's) up to this seq; they are
    // left out of the page but passed by the cursor (0: every visible event is sent).
    [[nodiscard]] ApiResult<PullResponse> pull(const DeviceRecord& device, std::int64_t after,
                                               std::int64_t limit, std::string_view epoch,
                                               std::int64_t own_upto = 0);
    [[nodiscard]] ApiResult<VerifyResult> verify(const DeviceRecord& device,
                                                 std::optional<std::int64_t> upto);
    [[nodiscard]] ApiResult<StatusResult> status(const DeviceRecord& device);

    // Concurrent edits of one field the projections recorded (operator's view).
    [[nodiscard]] Result<std::vector<client::ConflictEntry>> conflicts();

  private:
    [[nodiscard]] Result<std::int64_t> head();
    // Visits events visible to `device` with from < server_seq <= to, in order, at most
    // `limit`, leaving out the device's own events with seq <= own_upto; the visitor returns
    // false to stop.
    [[nodiscard]] Result<void> visible_events(const DeviceRecord& device, std::int64_t from,
                                              std::int64_t to, std::int64_t limit,
                                              const std::function<bool(storage::Event&)>& visit,
                                              std::int64_t own_upto = 0);

    storage::Database& m_db;
    DeviceRegistry& m_registry;
    storage::EventLog m_log;
    client::Projector m_projector;
    std::function<std::int64_t()> m_clock;
};

} // namespace caravan::sync::server
