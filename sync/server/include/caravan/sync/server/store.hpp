#pragma once
// The server's database: the same event log and projections as a device, plus the server's own
// tables (schema: k_server_migrations in src/store.cpp):
//   meta              key/value: epoch, created_at
//   enrollment_codes  hashed single-use codes with lawyer, role, regions, expiry
//   enrolled_devices  enrolled devices: hashed token, role, regions, acked_seq, last report,
//                     rotation links, first use of its token (an id is enrolled once)
//   rejected_events   events acknowledged with fate "rejected" (never in the change feed)
//   event_scope       per accepted event: reference data or not, and its region (folded)
// The event log's log_position IS the change feed's server_seq.
//
// Contract:
// - A Store owns one SQLite connection and is used by one thread at a time; the HTTP server
//   lends them from a pool, one per request. Writes take SQLite's write lock (BEGIN
//   IMMEDIATE) and wait up to the busy timeout for it; concurrent Stores on one file are safe.
// - Protocol operations (enroll, authenticate, push, pull, verify, status) return ApiError with
//   the protocol's codes; operator operations return Error. No message names a person or
//   repeats a field's value.
// - push() is all-or-nothing: a refused request changes nothing.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "caravan/client/model.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/api_error.hpp"

namespace caravan::sync::server {

// SQLite application_id of server databases ("CRVS").
inline constexpr std::uint32_t k_server_application_id = 0x43525653;

enum class Role { lawyer, coordinator };
[[nodiscard]] std::string_view to_string(Role role);
[[nodiscard]] std::optional<Role> parse_role(std::string_view text);

struct DeviceRecord {
    std::string device_id;
    std::string lawyer;
    Role role = Role::lawyer;
    std::vector<std::string> regions; // as the operator typed them (normalised spaces)
    std::int64_t enrolled_at_ms = 0;
    std::optional<std::int64_t> revoked_at_ms;
    std::int64_t acked_seq = 0;
    std::optional<std::int64_t> last_sync_ms; // last successful push or pull
    std::optional<std::string> app_version;
    std::optional<std::int64_t> queue_depth;
    std::optional<std::string> oldest_unsynced;

    // Rotation (docs/sync-algorithm.md 9): the id that replaced this one, and the one this
    // replaced. A device with a successor pushes and pulls no more; its events stay.
    std::optional<std::string> successor;
    std::optional<std::string> predecessor;
    std::optional<std::int64_t> rotated_at_ms;
    // When the device first made an authenticated request with its own token ("spoke"). Until
    // then a repeat of the enrollment or rotation that created it (its answer lost) may issue
    // it a fresh token; from then on nothing can claim the id again.
    std::optional<std::int64_t> first_used_at_ms;
    [[nodiscard]] bool revoked() const { return revoked_at_ms.has_value(); }
    [[nodiscard]] bool rotated() const { return successor.has_value(); }
    [[nodiscard]] bool spoken() const { return first_used_at_ms.has_value(); }
};

// What a device reports about itself in request headers (each part only when sent).
struct SyncReport {
    std::optional<std::string> app_version;
    std::optional<std::int64_t> queue_depth;
    bool has_oldest_unsynced = false;
    std::optional<std::string> oldest_unsynced; // none when sent empty
};

struct CodeRequest {
    std::string lawyer;
    std::vector<std::string> regions;
    Role role = Role::lawyer;
    std::int64_t ttl_hours = 72;
};

struct Enrollment {
    DeviceRecord device;
    std::string token; // shown once, stored only hashed
};

struct VerifyResult {
    std::int64_t upto = 0;
    std::int64_t count = 0;
    std::string digest;
};

struct StatusResult {
    std::int64_t acked_seq = 0;
    std::int64_t head = 0;
};

struct StoreOptions {
    bool create = true;          // create and migrate a missing database
    bool migrate = true;         // bring the schema up to date (pool connections skip it)
    bool integrity_check = true; // quick_check on open
    bool read_only = false;
    int busy_timeout_ms = 5000;
    std::function<std::int64_t()> clock; // Unix ms; the system clock when empty
};

class Store {
  public:
    [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::filesystem::path& db_path,
                                                             StoreOptions options = {});
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    // Creates the schema of every component and the epoch, if missing.
    [[nodiscard]] static Result<void> install(storage::Database& db, std::int64_t now_ms);
    // Replaces the epoch with a fresh random one (after a restore).
    [[nodiscard]] static Result<std::string> renew_epoch(storage::Database& db);

    [[nodiscard]] Result<std::string> epoch();
    [[nodiscard]] std::int64_t now_ms() const;

    // ---- operator --------------------------------------------------------------------------
    // A new code in display form; invalid_input for a bad name, region, role or ttl.
    [[nodiscard]] Result<std::string> create_code(const CodeRequest& request);
    [[nodiscard]] Result<std::vector<DeviceRecord>> devices();
    // By full id or a unique suffix of at least 4 characters (the short form is the last 8).
    // Revoking a revoked device changes nothing.
    [[nodiscard]] Result<DeviceRecord> revoke(std::string_view ref);
    [[nodiscard]] Result<std::vector<client::ConflictEntry>> conflicts();

    // ---- protocol --------------------------------------------------------------------------
    // Enrolls a device id the server has never known. A device id is enrolled once: an id that
    // is or ever was enrolled (revoked, rotated, a predecessor or a successor) or that has
    // events gets device_id_taken and nothing is written (the code stays unused). One repeat
    // is answered: the same code for the same id, while the code is still within its validity
    // and before the device has spoken, gets a fresh token for the same device record (the
    // first answer was lost). invalid_code when the code is unknown, expired, or used (by
    // another id, or by this id in a way that is not such a repeat); malformed for a bad id.
    [[nodiscard]] ApiResult<Enrollment> enroll(std::string_view code, std::string_view device_id,
                                               const SyncReport& report);
    // unauthenticated, device_revoked, or device_rotated (with "successor") unless
    // `allow_rotated` (only POST /v1/rotate takes a replaced device's token). The first
    // successful call for a device records that it has spoken (first_used_at_ms), tied to the
    // token presented: a token replaced meanwhile is unauthenticated.
    [[nodiscard]] ApiResult<DeviceRecord> authenticate(std::string_view token,
                                                       bool allow_rotated = false);
    // Gives `device`'s enrollment (lawyer, role, regions) to the new id `new_device_id` with a
    // fresh token, records it as the successor, and stops `device` from pushing or pulling
    // (its events stay in the feed and become part of the successor's own scope). Repeating
    // the request for the same successor (an answer lost on the way) issues a fresh token and
    // changes nothing else, but only while the successor has not spoken (and is neither
    // revoked nor rotated): after that the repeat gets device_id_taken. malformed: a bad new id
    // or the device's own; device_id_taken: a new id the server already knows (any device id,
    // enrolled, revoked or rotated, or one with events); device_rotated: `device` was replaced
    // by another id already; device_revoked.
    [[nodiscard]] ApiResult<Enrollment>
    rotate(const DeviceRecord& device, std::string_view new_device_id, const SyncReport& report);
    [[nodiscard]] ApiResult<PushResponse>
    push(const DeviceRecord& device, const PushRequest& request, const SyncReport& report);
    // `epoch`: the device's, empty when it has none. limit is clamped to the protocol's maximum.
    // `own_upto`: the device holds its own events (its current id's) up to this seq; they are
    // left out of the page but passed by the cursor (0: every visible event is sent).
    [[nodiscard]] ApiResult<PullResponse> pull(const DeviceRecord& device, std::int64_t after,
                                               std::int64_t limit, std::string_view epoch,
                                               std::int64_t own_upto = 0);
    // Records a successful pull in the device's report.
    [[nodiscard]] Result<void> record_pull(const DeviceRecord& device, const SyncReport& report);
    [[nodiscard]] ApiResult<VerifyResult> verify(const DeviceRecord& device,
                                                 std::optional<std::int64_t> upto);
    [[nodiscard]] ApiResult<StatusResult> status(const DeviceRecord& device);

    storage::Database& database() { return m_db; }

  private:
    struct Placement;
    Store(storage::Database db, StoreOptions options);

    [[nodiscard]] Result<std::int64_t> head();
    [[nodiscard]] Result<std::optional<DeviceRecord>> load_device(std::string_view device_id);
    // `device` as it is now, read inside the caller's write transaction (a concurrent revoke,
    // rotation or push): unauthenticated when unknown, device_revoked when revoked.
    [[nodiscard]] ApiResult<DeviceRecord> current_device(const DeviceRecord& device);
    // JSON array of the device's id and its predecessors' (rotation): its own events.
    [[nodiscard]] Result<std::string> lineage_json(const DeviceRecord& device);
    [[nodiscard]] Result<Placement> place(const storage::Event& event,
                                          const nlohmann::json& fields);
    // The refusal (code, message) of an event that depends on a record the server did not
    // accept: its parent is not on the server (parent_rejected when this device's event creating
    // it was refused, parent_unknown otherwise), or it updates or deletes a record whose
    // creation was refused to this device. nullopt when it depends on nothing missing. Judged
    // from the projections, so an earlier event of the same push counts as held.
    [[nodiscard]] Result<std::optional<std::pair<std::string_view, std::string>>>
    missing_dependency(const DeviceRecord& device, const storage::Event& event,
                       const nlohmann::json& fields);
    [[nodiscard]] Result<std::optional<std::string>> region_of_village(std::string_view id);
    [[nodiscard]] Result<std::optional<std::string>> region_of_visit(std::string_view id);
    [[nodiscard]] Result<std::optional<std::string>> text_column(std::string_view sql,
                                                                 std::string_view id);
    [[nodiscard]] Result<void> update_report(const std::string& device_id, const SyncReport& report,
                                             bool pushed, std::optional<std::int64_t> acked_seq);
    // Visits events visible to `device` with from < server_seq <= to, in order, at most
    // `limit`, leaving out the device's own events with seq <= own_upto; the visitor returns
    // false to stop.
    [[nodiscard]] Result<void> visible_events(const DeviceRecord& device, std::int64_t from,
                                              std::int64_t to, std::int64_t limit,
                                              const std::function<bool(storage::Event&)>& visit,
                                              std::int64_t own_upto = 0);

    storage::Database m_db;
    storage::EventLog m_log;
    client::Projector m_projector;
    StoreOptions m_options;
};

// The case- and space-insensitive key under which a region is compared.
[[nodiscard]] std::string region_key(std::string_view region);
// ISO 8601 UTC with milliseconds.
[[nodiscard]] std::string iso_utc(std::int64_t unix_ms);

} // namespace caravan::sync::server
