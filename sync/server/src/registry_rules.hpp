#pragma once
// The device registry's decisions, apart from where its state is kept: both registries
// (SqliteDeviceRegistry, PgDeviceRegistry) read the rows, ask these functions, and write what
// they decide, so the two stores answer every request alike.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/sync/server/device_registry.hpp"

namespace caravan::sync::server::rules {

// The columns a device record is read from, in the order device_from reads them.
inline constexpr std::string_view k_device_columns =
    "device_id, lawyer, role, regions, enrolled_at, revoked_at, acked_seq, last_sync_at,"
    " app_version, queue_depth, oldest_unsynced, successor, predecessor, rotated_at,"
    " first_used_at";

[[nodiscard]] std::vector<std::string> parse_regions(const std::string& json_text);

// A device record from a row of k_device_columns, whatever the store: `row` reads column c
// with text(c), int64(c), opt_text(c) and opt_int64(c).
template <class Row> [[nodiscard]] DeviceRecord device_from(const Row& row) {
    DeviceRecord d;
    d.device_id = row.text(0);
    d.lawyer = row.text(1);
    d.role = parse_role(row.text(2)).value_or(Role::lawyer);
    d.regions = parse_regions(row.text(3));
    d.enrolled_at_ms = row.int64(4);
    d.revoked_at_ms = row.opt_int64(5);
    d.acked_seq = row.int64(6);
    d.last_sync_ms = row.opt_int64(7);
    d.app_version = row.opt_text(8);
    d.queue_depth = row.opt_int64(9);
    d.oldest_unsynced = row.opt_text(10);
    d.successor = row.opt_text(11);
    d.predecessor = row.opt_text(12);
    d.rotated_at_ms = row.opt_int64(13);
    d.first_used_at_ms = row.opt_int64(14);
    return d;
}

// A checked code request and the code made for it, ready to store.
struct NewCode {
    std::string code;      // display form, shown once
    std::string code_hash; // stored
    std::string lawyer;
    std::string role;
    std::string regions_json;
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
};
// invalid_input for a bad name, region, role or ttl.
[[nodiscard]] Result<NewCode> new_code(const CodeRequest& request, std::int64_t now_ms);

[[nodiscard]] std::string regions_json(const std::vector<std::string>& regions);

// The reference an operator gave to revoke, normalised; invalid_input when too short.
[[nodiscard]] Result<std::string> revoke_ref(std::string_view ref);
// The one device `ref` names among the ids that match it (full id or suffix).
[[nodiscard]] Result<std::string> pick_device(const std::vector<std::string>& ids,
                                              const std::string& ref);

// The hash under which an enrollment code is stored; malformed for a bad device id,
// invalid_code for a code that cannot be one.
[[nodiscard]] ApiResult<std::string> enrollment_code_hash(std::string_view code,
                                                          std::string_view device_id);

// An enrollment code as stored.
struct CodeRow {
    std::string code_hash;
    std::string lawyer;
    std::string role;
    std::string regions_json;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> used_at;
    std::optional<std::string> used_by;
};
// What an enrollment writes: a new device record (and the code marked used), or a fresh token
// for the record a lost answer created.
enum class Write { insert, reissue };
// The device an enrollment of `device_id` with `code` (nullopt: no such code) would create.
[[nodiscard]] ApiResult<DeviceRecord> enrolled_device(const std::optional<CodeRow>& code,
                                                      std::string_view code_hash,
                                                      std::string_view device_id,
                                                      std::int64_t now_ms);
// The enrollment's decision, given what the server knows of the id: its record and the
// highest seq it holds of its events.
[[nodiscard]] ApiResult<Write> judge_enrollment(const CodeRow& code, std::string_view device_id,
                                                const std::optional<DeviceRecord>& known,
                                                std::int64_t held_seq);

// device_revoked / device_rotated (unless allowed) for an authenticated device.
[[nodiscard]] ApiResult<void> usable(const DeviceRecord& device, bool allow_rotated);
// The device as it is now: unauthenticated when gone, device_revoked when revoked.
[[nodiscard]] ApiResult<DeviceRecord> current(std::optional<DeviceRecord> fresh);
// device_rotated for a push by a replaced device.
[[nodiscard]] ApiResult<void> may_push(const DeviceRecord& device);

// malformed: a new id that is no UUID or the device's own.
[[nodiscard]] ApiResult<void> check_new_id(const DeviceRecord& device,
                                           std::string_view new_device_id);
// A rotation's decision for `old` (as it is now) to `new_device_id`: `known` is the server's
// record of the new id, `held_seq` the highest seq of its events.
[[nodiscard]] ApiResult<Write> judge_rotation(const DeviceRecord& old,
                                              std::string_view new_device_id,
                                              const std::optional<DeviceRecord>& known,
                                              std::int64_t held_seq);

// The answer to an enrollment or rotation: the device as stored (read inside the
// transaction) with its new token, once `commit()` (a Result<void>) succeeded.
template <class Commit>
[[nodiscard]] ApiResult<Enrollment>
enrollment_answer(const Result<std::optional<DeviceRecord>>& stored, Commit&& commit,
                  std::string token) {
    if (!stored || !*stored) {
        return tl::unexpected(api_error_from(stored ? Error{ErrorCode::internal, "device vanished"}
                                                    : stored.error()));
    }
    if (auto ok = commit(); !ok) {
        return tl::unexpected(api_error_from(ok.error()));
    }
    return Enrollment{**stored, std::move(token)};
}

} // namespace caravan::sync::server::rules
