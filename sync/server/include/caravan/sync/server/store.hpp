#pragma once
// The server's store: where the registry and the feed keep their state, behind one interface
// with two implementations (docs/decisions/0006-postgresql-store.md):
//   the embedded store   one SQLite file (server.db in the data directory): the default
//   PostgreSQL           a postgresql:// URL; several server processes may share the database
// and the two units that work on it:
//   registry()  the device registry (device_registry.hpp): codes, enrollment, tokens,
//               rotation, revocation, each device's report
//   feed()      the event feed (event_feed.hpp): push, the change feed, verification
//   accounts()  the rows of the dashboard's accounts, sessions and audit log (accounts.hpp),
//               in the shared database (never in PostgreSQL's per-process cache)
// The SQLite schema (k_server_migrations in src/store.cpp) holds the same event log and
// projections as a device, plus meta, enrollment_codes, enrolled_devices, rejected_events and
// event_scope; the PostgreSQL schema (src/pg_store.cpp) the same server tables, the
// projections living in each process's SQLite cache of the feed.
//
// Contract:
// - A Store is used by one thread at a time; the HTTP server lends them from a pool, one per
//   request. Concurrent Stores on one database (SQLite file or PostgreSQL) are safe.
// - registry(), feed() and accounts() live as long as the Store.
// - database() is the SQLite database of the projections (exports, reports, check): the file
//   itself for the embedded store, the process's cache for PostgreSQL. refresh() brings it up
//   to the feed's head first (a no-op for the embedded store).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "caravan/storage/database.hpp"
#include "caravan/sync/server/accounts.hpp"
#include "caravan/sync/server/device_registry.hpp"
#include "caravan/sync/server/event_feed.hpp"
#include "caravan/sync/server/pg.hpp"

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
    // PostgreSQL only: where this process keeps its projection cache (created if missing).
    std::filesystem::path cache_dir;
};

class Store {
  public:
    virtual ~Store() = default;

    // The embedded store: the SQLite file at `db_path`.
    [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::filesystem::path& db_path,
                                                             StoreOptions options = {});

    // The PostgreSQL store on `pool`'s database (installing or upgrading its schema unless
    // options.migrate is false), its projections cached in options.cache_dir. Stores opened on
    // one pool share its connections. offline when the database cannot be reached, corrupt
    // when it is not a Caravan server's.
    [[nodiscard]] static Result<std::unique_ptr<Store>>
    open_postgresql(std::shared_ptr<pg::Pool> pool, StoreOptions options = {});

    // Creates the SQLite schema of every component and the epoch, if missing.
    [[nodiscard]] static Result<void> install(storage::Database& db, std::int64_t now_ms);
    // Replaces the epoch with a fresh random one (after a restore).
    [[nodiscard]] static Result<std::string> renew_epoch(storage::Database& db);

    [[nodiscard]] virtual std::int64_t now_ms() const = 0;
    [[nodiscard]] virtual DeviceRegistry& registry() = 0;
    [[nodiscard]] virtual EventFeed& feed() = 0;
    [[nodiscard]] virtual AccountStore& accounts() = 0;
    // Brings database() up to the feed's head.
    [[nodiscard]] virtual Result<void> refresh() = 0;
    // The id of the server's own device (meta `server_device`: the device the dashboard writes
    // a coordinator's choice with, docs/decisions/0005-coordinator-dashboard.md): the one
    // stored, or `proposed`, stored now when none is ("" when none is and `proposed` is empty).
    // Atomic across connections and processes: of two claims at once one id is stored, and
    // both callers get that one.
    [[nodiscard]] virtual Result<std::string> server_device(std::string_view proposed) = 0;
    // The projections (read-only for the exports), backup and check of the embedded store.
    virtual storage::Database& database() = 0;
};

// What migrate_to_postgresql copied.
struct MigrateResult {
    std::int64_t events = 0;
    std::int64_t rejected = 0;
    std::int64_t devices = 0;
    std::int64_t codes = 0;
    std::int64_t accounts = 0;      // the dashboard's, with their password hashes and sessions
    std::int64_t audit_entries = 0; // the dashboard's audit log, in its order
    std::string epoch; // kept: devices go on syncing without a resync
};

// Copies the embedded store of `data_dir` (its server stopped: the directory's lock is taken)
// into the empty PostgreSQL store on `pool`: codes, devices with their tokens and acked seqs,
// the feed with its positions and scopes, rejected events, the epoch, and the dashboard's
// accounts, sessions and audit log (coordinators keep their passwords). One transaction: on
// failure PostgreSQL is left as it was. conflict when the PostgreSQL store holds anything;
// corrupt when the feed's positions are not 1..n.
[[nodiscard]] Result<MigrateResult> migrate_to_postgresql(const std::filesystem::path& data_dir,
                                                          pg::Pool& pool);

// ISO 8601 UTC with milliseconds ("2024-05-14T10:31:02.120Z"): the model's one formatter
// (client::iso_8601 of client::utc_time), under the name the server's code uses.
[[nodiscard]] std::string iso_utc(std::int64_t unix_ms);

} // namespace caravan::sync::server
