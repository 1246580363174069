#pragma once
// The server's database: one SQLite connection, the schema of every component, and the two
// units that work on it:
//   registry()  the device registry (device_registry.hpp): codes, enrollment, tokens,
//               rotation, revocation, each device's report
//   feed()      the event feed (event_feed.hpp): push, the change feed, verification
// The schema (k_server_migrations in src/store.cpp) holds the same event log and projections
// as a device, plus meta, enrollment_codes, enrolled_devices, rejected_events and event_scope.
//
// Contract:
// - A Store owns one SQLite connection and is used by one thread at a time; the HTTP server
//   lends them from a pool, one per request. Writes take SQLite's write lock (BEGIN
//   IMMEDIATE) and wait up to the busy timeout for it; concurrent Stores on one file are safe.
// - registry() and feed() live as long as the Store.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "caravan/storage/database.hpp"
#include "caravan/sync/server/device_registry.hpp"
#include "caravan/sync/server/event_feed.hpp"

namespace caravan::sync::server {

// SQLite application_id of server databases ("CRVS").
inline constexpr std::uint32_t k_server_application_id = 0x43525653;

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

    [[nodiscard]] std::int64_t now_ms() const;

    [[nodiscard]] DeviceRegistry& registry() { return m_registry; }
    [[nodiscard]] EventFeed& feed() { return m_feed; }
    // For the exports (read-only projections), backup and check.
    storage::Database& database() { return m_db; }

  private:
    Store(storage::Database db, StoreOptions options);

    storage::Database m_db;
    StoreOptions m_options;
    DeviceRegistry m_registry;
    EventFeed m_feed;
};

// ISO 8601 UTC with milliseconds ("2024-05-14T10:31:02.120Z"): the model's one formatter
// (client::iso_8601 of client::utc_time), under the name the server's code uses.
[[nodiscard]] std::string iso_utc(std::int64_t unix_ms);

} // namespace caravan::sync::server
