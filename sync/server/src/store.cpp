#include "caravan/sync/server/store.hpp"

#include <algorithm>
#include <chrono>

#include "account_stores.hpp"
#include "caravan/client/iso_time.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/migrations.hpp"
#include "caravan/sync/server/credentials.hpp"
#include "sqlite_device_registry.hpp"
#include "sqlite_event_feed.hpp"

namespace caravan::sync::server {

namespace {

const storage::Migration k_server_migrations[] = {
    {1, R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE enrollment_codes(
    code_hash  TEXT PRIMARY KEY,
    lawyer     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    TEXT
) STRICT;
CREATE TABLE enrolled_devices(
    device_id       TEXT PRIMARY KEY,
    lawyer          TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions         TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    enrolled_at     INTEGER NOT NULL,
    revoked_at      INTEGER,
    acked_seq       INTEGER NOT NULL DEFAULT 0,
    last_push_at    INTEGER,
    last_pull_at    INTEGER,
    last_sync_at    INTEGER,
    app_version     TEXT,
    queue_depth     INTEGER,
    oldest_unsynced TEXT
) STRICT;
CREATE TABLE rejected_events(
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    hlc            INTEGER NOT NULL,
    entity_type    TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    op             TEXT NOT NULL,
    payload        TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    code           TEXT NOT NULL,
    message        TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT;
CREATE TABLE event_scope(
    log_position INTEGER PRIMARY KEY,
    reference    INTEGER NOT NULL,
    region_key   TEXT
) STRICT;
)sql"},
    // Device rotation: a device restored from an old backup continues under a new id.
    {2, R"sql(
ALTER TABLE enrolled_devices ADD COLUMN successor TEXT;
ALTER TABLE enrolled_devices ADD COLUMN predecessor TEXT;
ALTER TABLE enrolled_devices ADD COLUMN rotated_at INTEGER;
CREATE INDEX enrolled_devices_by_predecessor ON enrolled_devices(predecessor);
)sql"},
    // A device id is enrolled once (docs/security.md, "Device identity takeover"): when a device
    // first spoke with its own token. Devices enrolled before this count as having spoken.
    {3, R"sql(
ALTER TABLE enrolled_devices ADD COLUMN first_used_at INTEGER;
UPDATE enrolled_devices SET first_used_at = coalesce(last_sync_at, enrolled_at);
)sql"},
    // The coordinator's dashboard (accounts.hpp): people who log in, their sessions, and what
    // each of them did. IF NOT EXISTS: a database taken back to an older version (tests of
    // earlier migrations do) keeps these tables, and must still migrate forward.
    {4, R"sql(
CREATE TABLE IF NOT EXISTS accounts(
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('coordinator', 'viewer')),
    regions       TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    settings      TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE TABLE IF NOT EXISTS account_sessions(
    id_hash      TEXT PRIMARY KEY,
    account      TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS account_sessions_by_account ON account_sessions(account);
CREATE TABLE IF NOT EXISTS audit_log(
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    account TEXT NOT NULL,
    action  TEXT NOT NULL,
    detail  TEXT NOT NULL
) STRICT;
)sql"},
    // The dashboard's reports (client/exports/src/report.cpp) read a few columns of every
    // consultation and attendance entry of each visit in scope: these indexes hold exactly
    // those columns in visit order, so a report reads them instead of the records' full rows
    // (question, advice, field versions). The server only: a device's reports are small.
    {5, R"sql(
CREATE INDEX IF NOT EXISTS consultations_for_reports ON consultations(visit_id, _created, deleted,
    outcome, gender, age, category, vulnerable, lawyer);
CREATE INDEX IF NOT EXISTS attendance_for_reports ON attendance(visit_id, _created, deleted,
    gender, age, category, vulnerable, count);
)sql"},
    // 6: the reports add up the visit totals (client/model visit_totals.hpp) since; the indexes
    // of 5 no longer serve them and only cost every push its writes.
    {6, R"sql(
DROP INDEX IF EXISTS consultations_for_reports;
DROP INDEX IF EXISTS attendance_for_reports;
)sql"},
};

std::int64_t system_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

StoreOptions with_clock(StoreOptions options) {
    if (!options.clock) {
        options.clock = system_clock_ms;
    }
    return options;
}

// The embedded store: everything in one SQLite database.
class SqliteStore final : public Store {
  public:
    SqliteStore(storage::Database db, StoreOptions options)
        : m_db(std::move(db)), m_options(with_clock(std::move(options))),
          m_registry(m_db, m_options.clock), m_feed(m_db, m_registry, &m_registry, m_options.clock),
          m_accounts(sqlite_account_store(m_db)) {}

    [[nodiscard]] std::int64_t now_ms() const override { return m_options.clock(); }
    [[nodiscard]] DeviceRegistry& registry() override { return m_registry; }
    [[nodiscard]] EventFeed& feed() override { return m_feed; }
    [[nodiscard]] AccountStore& accounts() override { return *m_accounts; }
    [[nodiscard]] Result<void> refresh() override { return {}; }
    [[nodiscard]] Result<std::string> server_device(std::string_view proposed) override {
        if (!proposed.empty()) {
            CARAVAN_TRY_VOID(m_db.query("INSERT INTO meta(key, value) VALUES('server_device', ?)"
                                        " ON CONFLICT(key) DO NOTHING",
                                        proposed)
                                 .run());
        }
        CARAVAN_TRY(id,
                    m_db.query("SELECT value FROM meta WHERE key = 'server_device'").one<std::string>());
        return id.value_or("");
    }
    storage::Database& database() override { return m_db; }
    [[nodiscard]] const StoreOptions& options() const { return m_options; }

  private:
    storage::Database m_db;
    StoreOptions m_options;
    SqliteDeviceRegistry m_registry;
    SqliteEventFeed m_feed;
    std::unique_ptr<AccountStore> m_accounts;
};

} // namespace

// ---- vocabulary ------------------------------------------------------------------------------

std::string iso_utc(std::int64_t unix_ms) {
    return client::iso_8601(client::utc_time(std::max<std::int64_t>(0, unix_ms)));
}

// ---- opening -------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& db_path,
                                           StoreOptions options) {
    storage::OpenOptions o;
    o.create = options.create;
    o.read_only = options.read_only;
    o.busy_timeout_ms = options.busy_timeout_ms;
    o.integrity_check = options.integrity_check;
    o.application_id = k_server_application_id;
    auto db = storage::Database::open(db_path, o);
    if (!db) {
        if (db.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found,
                        "no server database at " + db_path.string() +
                            " (create one with `caravan-server enroll-code` or `serve`)");
        }
        return tl::unexpected(db.error());
    }
    auto store = std::make_unique<SqliteStore>(std::move(*db), std::move(options));
    if (store->options().migrate && !store->options().read_only) {
        if (auto ok = install(store->database(), store->now_ms()); !ok) {
            return tl::unexpected(ok.error());
        }
    } else {
        auto version = storage::schema_version(store->database(), "server");
        if (!version) {
            return tl::unexpected(version.error());
        }
        if (*version == 0) {
            return fail(ErrorCode::corrupt, db_path.string() + " is not a server database");
        }
    }
    return std::unique_ptr<Store>(std::move(store));
}

Result<void> Store::install(storage::Database& db, std::int64_t now_ms) {
    if (auto ok = storage::EventLog::install(db); !ok) {
        return ok;
    }
    if (auto ok = client::Projector::install(db); !ok) {
        return ok;
    }
    // The record browser's word search looks in the consultations' text index, as the app's
    // list does; kept by triggers, so every push, cache catch-up and new epoch's file keeps it.
    if (auto ok = client::search_index::install(db); !ok) {
        return ok;
    }
    // The report pages add up each visit's totals (client/model visit_totals.hpp), kept by
    // triggers as the search index is.
    if (auto ok = client::visit_totals::install(db); !ok) {
        return ok;
    }
    if (auto ok = storage::migrate(db, "server", k_server_migrations); !ok) {
        return ok;
    }
    auto set = db.cached("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING");
    if (!set) {
        return tl::unexpected(set.error());
    }
    (*set)->bind_all("epoch", random_hex(8));
    if (auto ok = (*set)->run(); !ok) {
        return ok;
    }
    (*set)->bind_all("created_at", iso_utc(now_ms));
    return (*set)->run();
}

Result<std::string> Store::renew_epoch(storage::Database& db) {
    std::string epoch = random_hex(8);
    auto set = db.cached("INSERT INTO meta(key, value) VALUES('epoch', ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!set) {
        return tl::unexpected(set.error());
    }
    (*set)->bind(1, epoch);
    if (auto ok = (*set)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return epoch;
}

} // namespace caravan::sync::server
