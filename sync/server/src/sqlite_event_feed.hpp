#pragma once
// The event feed of the embedded store (and of the PostgreSQL store's local projection cache):
// its tables in a server SQLite database (schema: src/store.cpp). The event log's log_position
// IS the change feed's server_seq.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/server/event_feed.hpp"
#include "sqlite_device_registry.hpp"

namespace caravan::sync::server {

class SqliteEventFeed final : public EventFeed {
  public:
    // `db` and the registries must outlive the feed; `clock`: Unix ms. `lineage` answers whose
    // events are a device's own (pull, verify); `registry`, on the same connection as `db`,
    // takes part in push's transaction. A feed without one (the PostgreSQL store's cache, which
    // pushes through PostgreSQL) refuses push with `internal`.
    SqliteEventFeed(storage::Database& db, DeviceRegistry& lineage, SqliteDeviceRegistry* registry,
                    std::function<std::int64_t()> clock);
    SqliteEventFeed(const SqliteEventFeed&) = delete;
    SqliteEventFeed& operator=(const SqliteEventFeed&) = delete;

    [[nodiscard]] Result<std::string> epoch() override;
    [[nodiscard]] ApiResult<PushResponse>
    push(const DeviceRecord& device, const PushRequest& request, const SyncReport& report) override;
    [[nodiscard]] ApiResult<PullResponse> pull(const DeviceRecord& device, std::int64_t after,
                                               std::int64_t limit, std::string_view epoch,
                                               std::int64_t own_upto = 0) override;
    [[nodiscard]] ApiResult<VerifyResult> verify(const DeviceRecord& device,
                                                 std::optional<std::int64_t> upto) override;
    [[nodiscard]] ApiResult<StatusResult> status(const DeviceRecord& device) override;
    [[nodiscard]] Result<std::vector<client::ConflictEntry>> conflicts() override;

    // The highest log position (0 for an empty feed).
    [[nodiscard]] Result<std::int64_t> head();

  private:
    // Visits events visible to `device` with from < server_seq <= to, in order, at most
    // `limit`, leaving out the device's own events with seq <= own_upto; the visitor returns
    // false to stop.
    [[nodiscard]] Result<void> visible_events(const DeviceRecord& device, std::int64_t from,
                                              std::int64_t to, std::int64_t limit,
                                              const std::function<bool(storage::Event&)>& visit,
                                              std::int64_t own_upto = 0);

    storage::Database& m_db;
    DeviceRegistry& m_lineage;
    SqliteDeviceRegistry* m_registry;
    storage::EventLog m_log;
    client::Projector m_projector;
    std::function<std::int64_t()> m_clock;
};

} // namespace caravan::sync::server
