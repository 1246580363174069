#pragma once
// The PostgreSQL store (docs/decisions/0006-postgresql-store.md): the registry and the feed's
// authoritative state in PostgreSQL, shared by any number of server processes; the projections
// in each process's SQLite cache of the feed.
//
//   PostgreSQL (schema: k_pg_migrations in pg_store.cpp)
//     meta               epoch, created_at
//     enrollment_codes   as the embedded store's
//     enrolled_devices   as the embedded store's
//     feed_head          one row: the last log position and the last rejected number handed
//                        out. Every push locks it (SELECT ... FOR UPDATE) until it commits, so
//                        positions are assigned and committed in order: no reader can ever see
//                        position n+1 before n (no holes), and two pushes never judge events
//                        against different states.
//     events             the change feed: log_position, the event, its scope (reference,
//                        region_key); unique (device_id, seq)
//     rejected_events    refused events, numbered in the order they were refused
//   The cache (cache_dir/cache-<epoch>.db) is a server SQLite database holding exactly the
//   feed up to some position: events appended in position order (so its log positions ARE the
//   feed's), their projections and scopes, and the rejected events up to some number. It is
//   disposable: deleted, it is rebuilt from PostgreSQL; a new epoch (a restore) starts a new
//   file, and the files of other epochs in cache_dir are removed.
//
// Contract:
// - A PgStore is used by one thread at a time and holds a PostgreSQL connection only while an
//   operation runs (the pool bounds how many a process opens). Its cache connection is its own.
// - push: one PostgreSQL transaction that locks the device's row, then feed_head; brings the
//   cache up to the head inside the cache's write transaction, judges the events there with the
//   embedded store's code (ingest.hpp), writes what it decided to PostgreSQL and commits
//   PostgreSQL, then the cache. A failure before PostgreSQL's commit leaves both unchanged; one
//   after it leaves the cache behind, to be caught up later.
// - Reads (pull, verify, status, conflicts, exports) bring the cache up to the head first and
//   answer from it with the embedded store's code, so both stores give the same bytes.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/server/pg.hpp"
#include "caravan/sync/server/store.hpp"
#include "sqlite_event_feed.hpp"

namespace caravan::sync::server {

class PgDeviceRegistry final : public DeviceRegistry {
  public:
    PgDeviceRegistry(pg::Pool& pool, std::function<std::int64_t()> clock);

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
    [[nodiscard]] Result<std::int64_t> enroll_wait_s(std::string_view address,
                                                     std::size_t max_failures,
                                                     std::int64_t window_ms) override;
    [[nodiscard]] Result<void> record_enroll_failure(std::string_view address,
                                                     std::int64_t window_ms) override;

    // ---- for the feed's push, on its connection and inside its transaction -------------------
    // The device's row, locked until the transaction ends.
    [[nodiscard]] static Result<std::optional<DeviceRecord>>
    lock_device(pg::Connection& conn, std::string_view device_id);
    [[nodiscard]] static Result<void> record_push(pg::Connection& conn, const DeviceRecord& device,
                                                  const SyncReport& report, std::int64_t acked_seq,
                                                  std::int64_t now_ms);

  private:
    pg::Pool& m_pool;
    std::function<std::int64_t()> m_clock;
};

class PgEventFeed final : public EventFeed {
  public:
    // `cache` is the store's cache connection, `registry` the store's; all outlive the feed.
    PgEventFeed(pg::Pool& pool, PgDeviceRegistry& registry, storage::Database& cache,
                std::function<std::int64_t()> clock);

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

    // Applies to the cache what PostgreSQL committed beyond it (its own write transaction).
    [[nodiscard]] Result<void> refresh();

  private:
    // Inside the cache's write transaction: applies events and rejected events beyond the
    // cache's, as `conn` sees them now.
    [[nodiscard]] Result<void> catch_up(pg::Connection& conn);

    pg::Pool& m_pool;
    PgDeviceRegistry& m_registry;
    storage::Database& m_cache;
    storage::EventLog m_log;
    client::Projector m_projector;
    SqliteEventFeed m_reader;
    std::function<std::int64_t()> m_clock;
};

} // namespace caravan::sync::server
