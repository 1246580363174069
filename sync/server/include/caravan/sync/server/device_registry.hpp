#pragma once
// The server's device registry: who may sync, with which role and regions. Owns the tables
//   enrollment_codes  hashed single-use codes with lawyer, role, regions, expiry
//   enrolled_devices  enrolled devices: hashed token, role, regions, acked_seq, last report,
//                     rotation links, first use of its token (an id is enrolled once)
// (schema: src/store.cpp). Issues codes, enrolls, authenticates, rotates and revokes devices,
// and keeps each device's report (last sync, queue depth, app version) and acknowledged seq.
//
// Contract:
// - A DeviceRegistry works on its Store's connection (Store::registry()) and is used by one
//   thread at a time. enroll, rotate and revoke are each one transaction.
// - Protocol operations return ApiError with the protocol's codes; operator operations return
//   Error. No message names a person or repeats a field's value.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/result.hpp"
#include "caravan/sync/server/api_error.hpp"

namespace caravan::sync::server {

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

// The registry's operations, whatever holds its state: SqliteDeviceRegistry (src/
// sqlite_device_registry.hpp, the embedded store) or PgDeviceRegistry (src/pg_store.hpp, the
// PostgreSQL store). Both keep every promise below across all the connections (and, for
// PostgreSQL, processes) that share their database.
class DeviceRegistry {
  public:
    virtual ~DeviceRegistry() = default;

    // ---- operator --------------------------------------------------------------------------
    // A new code in display form; invalid_input for a bad name, region, role or ttl.
    [[nodiscard]] virtual Result<std::string> create_code(const CodeRequest& request) = 0;
    [[nodiscard]] virtual Result<std::vector<DeviceRecord>> devices() = 0;
    // By full id or a unique suffix of at least 4 characters (the short form is the last 8).
    // Revoking a revoked device changes nothing.
    [[nodiscard]] virtual Result<DeviceRecord> revoke(std::string_view ref) = 0;

    // ---- protocol --------------------------------------------------------------------------
    // Enrolls a device id the server has never known. A device id is enrolled once: an id that
    // is or ever was enrolled (revoked, rotated, a predecessor or a successor) or that has
    // events gets device_id_taken and nothing is written (the code stays unused). One repeat
    // is answered: the same code for the same id, while the code is still within its validity
    // and before the device has spoken, gets a fresh token for the same device record (the
    // first answer was lost). invalid_code when the code is unknown, expired, or used (by
    // another id, or by this id in a way that is not such a repeat); malformed for a bad id.
    [[nodiscard]] virtual ApiResult<Enrollment>
    enroll(std::string_view code, std::string_view device_id, const SyncReport& report) = 0;
    // unauthenticated, device_revoked, or device_rotated (with "successor") unless
    // `allow_rotated` (only POST /v1/rotate takes a replaced device's token). The first
    // successful call for a device records that it has spoken (first_used_at_ms), tied to the
    // token presented: a token replaced meanwhile is unauthenticated.
    [[nodiscard]] virtual ApiResult<DeviceRecord> authenticate(std::string_view token,
                                                               bool allow_rotated = false) = 0;
    // Gives `device`'s enrollment (lawyer, role, regions) to the new id `new_device_id` with a
    // fresh token, records it as the successor, and stops `device` from pushing or pulling
    // (its events stay in the feed and become part of the successor's own scope). Repeating
    // the request for the same successor (an answer lost on the way) issues a fresh token and
    // changes nothing else, but only while the successor has not spoken (and is neither
    // revoked nor rotated): after that the repeat gets device_id_taken. malformed: a bad new id
    // or the device's own; device_id_taken: a new id the server already knows (any device id,
    // enrolled, revoked or rotated, or one with events); device_rotated: `device` was replaced
    // by another id already; device_revoked.
    [[nodiscard]] virtual ApiResult<Enrollment> rotate(const DeviceRecord& device,
                                                       std::string_view new_device_id,
                                                       const SyncReport& report) = 0;
    // Records a successful pull in the device's report.
    [[nodiscard]] virtual Result<void> record_pull(const DeviceRecord& device,
                                                   const SyncReport& report) = 0;
    // JSON array of the device's id and its predecessors' (rotation): its own events.
    [[nodiscard]] virtual Result<std::string> lineage_json(const DeviceRecord& device) = 0;

    // ---- the enrollment rate limit shared by every server process on the store ---------------
    // Each process also keeps its own RateLimiter (rate_limiter.hpp: attempts in flight); these
    // add the failures other processes saw. Seconds `address` must wait before guessing again
    // (0: it may) when `max_failures` wrong codes came from it within `window_ms`. The embedded
    // store has one process per data directory: 0 always, and nothing is recorded.
    [[nodiscard]] virtual Result<std::int64_t>
    enroll_wait_s(std::string_view address, std::size_t max_failures, std::int64_t window_ms) = 0;
    [[nodiscard]] virtual Result<void> record_enroll_failure(std::string_view address,
                                                             std::int64_t window_ms) = 0;
};

// The case- and space-insensitive key under which a region is compared.
[[nodiscard]] std::string region_key(std::string_view region);
// True when `region` is one of `device`'s (compared by region_key).
[[nodiscard]] bool in_regions(const DeviceRecord& device, const std::string& region);

} // namespace caravan::sync::server
