#pragma once
// The device registry of the embedded store: its tables in the server's SQLite database (schema:
// src/store.cpp). enroll, rotate and revoke take SQLite's write lock themselves; the helpers
// the event feed calls inside its own transaction (current_device, record_push) do not.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/server/device_registry.hpp"

namespace caravan::storage {
class Transaction;
} // namespace caravan::storage

namespace caravan::sync::server {

class SqliteDeviceRegistry final : public DeviceRegistry {
  public:
    // `clock`: Unix ms. `db` must outlive the registry.
    SqliteDeviceRegistry(storage::Database& db, std::function<std::int64_t()> clock);
    SqliteDeviceRegistry(const SqliteDeviceRegistry&) = delete;
    SqliteDeviceRegistry& operator=(const SqliteDeviceRegistry&) = delete;

    [[nodiscard]] Result<std::string> create_code(const CodeRequest& request) override;
    [[nodiscard]] Result<std::vector<DeviceRecord>> devices() override;
    [[nodiscard]] Result<DeviceRecord> revoke(std::string_view ref) override;
    [[nodiscard]] ApiResult<Enrollment> enroll(std::string_view code, std::string_view device_id,
                                               const SyncReport& report) override;
    [[nodiscard]] ApiResult<DeviceRecord> authenticate(std::string_view token,
                                                       bool allow_rotated = false) override;
    [[nodiscard]] ApiResult<Enrollment> rotate(const DeviceRecord& device,
                                               std::string_view new_device_id,
                                               const SyncReport& report) override;
    [[nodiscard]] Result<void> record_pull(const DeviceRecord& device,
                                           const SyncReport& report) override;
    [[nodiscard]] Result<std::string> lineage_json(const DeviceRecord& device) override;
    [[nodiscard]] Result<std::int64_t> enroll_wait_s(std::string_view, std::size_t,
                                                     std::int64_t) override {
        return 0;
    }
    [[nodiscard]] Result<void> record_enroll_failure(std::string_view, std::int64_t) override {
        return {};
    }

    // ---- for the event feed, inside its write transaction ------------------------------------
    // `device` as it is now (a concurrent revoke, rotation or push): unauthenticated when
    // unknown, device_revoked when revoked.
    [[nodiscard]] ApiResult<DeviceRecord> current_device(const DeviceRecord& device);
    // Records a push: the device's new acknowledged seq and its report.
    [[nodiscard]] Result<void> record_push(const DeviceRecord& device, const SyncReport& report,
                                           std::int64_t acked_seq);

  private:
    [[nodiscard]] Result<std::optional<DeviceRecord>> load_device(std::string_view device_id);
    [[nodiscard]] Result<void> update_report(const std::string& device_id, const SyncReport& report,
                                             bool pushed, std::optional<std::int64_t> acked_seq);
    // The enrollment of `device_id` as stored with `token`, once `tx` committed (enroll, rotate).
    [[nodiscard]] ApiResult<Enrollment>
    commit_enrollment(storage::Transaction& tx, std::string_view device_id, std::string token);
    // Replaces the token of a device that has not spoken yet (a repeated enrollment or rotation).
    [[nodiscard]] Result<void> reissue_token(std::string_view device_id, const std::string& token);

    storage::Database& m_db;
    storage::EventLog m_log;
    std::function<std::int64_t()> m_clock;
};

} // namespace caravan::sync::server
