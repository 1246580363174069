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
//   time. push() is one transaction that holds the feed's write lock (SQLite: BEGIN IMMEDIATE;
//   PostgreSQL: the feed_head row) and is all-or-nothing: a refused request changes nothing.
//   Reads see one snapshot each.
// - Every operation returns ApiError with the protocol's codes (conflicts(): Error). No message
//   names a person or repeats a field's value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/client/model.hpp"
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

// The feed's operations, whatever holds its state: SqliteEventFeed (src/sqlite_event_feed.hpp,
// the embedded store) or PgEventFeed (src/pg_store.hpp, the PostgreSQL store).
class EventFeed {
  public:
    virtual ~EventFeed() = default;

    // The feed's epoch: renewed when the database is restored from a backup, so a device knows
    // its cursor no longer means anything. corrupt when missing.
    [[nodiscard]] virtual Result<std::string> epoch() = 0;

    // Checks the request (validate), then judges each event in order under the write lock:
    // a duplicate of one acknowledged before is answered again, a new one accepted into the
    // feed or rejected (stored with its code, acknowledged, never sent). A request-level
    // refusal (forbidden, malformed, upgrade_required, sequence_gap, sequence_conflict,
    // device_rotated, device_revoked) changes nothing. Records the push in the registry.
    [[nodiscard]] virtual ApiResult<PushResponse>
    push(const DeviceRecord& device, const PushRequest& request, const SyncReport& report) = 0;
    // `epoch`: the device's, empty when it has none. limit is clamped to the protocol's maximum.
    // `own_upto`: the device holds its own events (its current id's) up to this seq; they are
    // left out of the page but passed by the cursor (0: every visible event is sent).
    [[nodiscard]] virtual ApiResult<PullResponse> pull(const DeviceRecord& device,
                                                       std::int64_t after, std::int64_t limit,
                                                       std::string_view epoch,
                                                       std::int64_t own_upto = 0) = 0;
    [[nodiscard]] virtual ApiResult<VerifyResult> verify(const DeviceRecord& device,
                                                         std::optional<std::int64_t> upto) = 0;
    [[nodiscard]] virtual ApiResult<StatusResult> status(const DeviceRecord& device) = 0;

    // Concurrent edits of one field the projections recorded (operator's view).
    [[nodiscard]] virtual Result<std::vector<client::ConflictEntry>> conflicts() = 0;
};

} // namespace caravan::sync::server
