#include "caravan/sync/server/maintenance.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <system_error>

#include "caravan/client/iso_time.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "caravan/sync/server/store.hpp"
#include "check_support.hpp"

namespace caravan::sync::server {

namespace fs = std::filesystem;

namespace {

StoreOptions existing_store() {
    StoreOptions o;
    o.create = false;
    o.migrate = false;
    o.integrity_check = false;
    return o;
}

Result<std::int64_t> count(storage::Database& db, std::string_view sql) {
    CARAVAN_TRY(n, db.query(sql).one<std::int64_t>());
    return n.value_or(0);
}

Result<void> fsync_path(const fs::path& path, bool directory) {
    int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        return fail(ErrorCode::io, "cannot open " + path.string() + " to sync it");
    }
    int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) {
        return fail(ErrorCode::io, "cannot sync " + path.string());
    }
    return {};
}

// Now in UTC, in ISO 8601's basic format (a file name's part): "20240514T103102Z".
std::string utc_stamp() {
    client::CivilTime now = client::utc_time(static_cast<std::int64_t>(std::time(nullptr)) * 1000);
    now.millis.reset();
    std::string stamp = client::iso_8601(now);
    std::erase_if(stamp, [](char c) { return c == '-' || c == ':'; });
    return stamp;
}

void remove_database_files(const fs::path& db) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        fs::remove(db.string() + suffix, ec);
    }
}

// The embedded store's scope table (PostgreSQL keeps the scope in the event's row).
constexpr Invariant k_scope_invariants[] = {
    {"events without a scope row",
     "SELECT count(*) FROM events e LEFT JOIN event_scope s"
     " ON s.log_position = e.log_position WHERE s.log_position IS NULL"},
    {"scope rows without an event",
     "SELECT count(*) FROM event_scope s LEFT JOIN events e"
     " ON e.log_position = s.log_position WHERE e.log_position IS NULL"},
};

Result<void> count_violations(storage::Database& db, const Invariant& inv, CheckReport& report) {
    CARAVAN_TRY(n, count(db, inv.sql));
    if (n != 0) {
        report.problems.push_back(std::string(inv.what) + ": " + std::to_string(n));
    }
    return {};
}

} // namespace

// Both stores: the same SQL runs on SQLite and PostgreSQL.
const Invariant k_device_invariants[3] = {
    {"events both accepted and rejected", "SELECT count(*) FROM events e JOIN rejected_events r"
                                          " ON r.device_id = e.device_id AND r.seq = e.seq"},
    {"devices whose acked_seq does not match the events held for them",
     "SELECT count(*) FROM enrolled_devices d WHERE d.acked_seq !="
     " (SELECT count(*) FROM events e WHERE e.device_id = d.device_id) +"
     " (SELECT count(*) FROM rejected_events r WHERE r.device_id = d.device_id)"
     " OR EXISTS (SELECT 1 FROM events e WHERE e.device_id = d.device_id"
     "            AND e.seq > d.acked_seq)"
     " OR EXISTS (SELECT 1 FROM rejected_events r WHERE r.device_id = d.device_id"
     "            AND r.seq > d.acked_seq)"},
    {"events from devices that were never enrolled",
     "SELECT count(*) FROM events e WHERE NOT EXISTS"
     " (SELECT 1 FROM enrolled_devices d WHERE d.device_id = e.device_id)"},
};

Result<void> compare_with_rebuild(storage::Database& db, CheckReport& report) {
    client::Projector projector(db);
    CARAVAN_TRY(before, projector.fingerprint());
    report.fingerprint = before;
    // The text index, where the file has one (a server.db from before it gets it on the
    // server's next start).
    CARAVAN_TRY(has_index, client::search_index::present(db));
    if (has_index) {
        CARAVAN_TRY(index_matches, client::search_index::matches_table(db));
        if (!index_matches) {
            report.problems.push_back("the consultations' text index differs from the table");
        }
    }
    // The visit totals the report pages add up, likewise.
    CARAVAN_TRY(has_totals, client::visit_totals::present(db));
    if (has_totals) {
        CARAVAN_TRY(totals_match, client::visit_totals::matches_tables(db));
        if (!totals_match) {
            report.problems.push_back("the visit totals differ from the records");
        }
    }
    {
        CARAVAN_TRY(tx, storage::Transaction::begin(db));
        CARAVAN_TRY_VOID(client::rebuild_projections(db, projector));
        CARAVAN_TRY_VOID(tx.commit());
    }
    CARAVAN_TRY(after, projector.fingerprint());
    report.rebuilt_fingerprint = after;
    if (report.fingerprint != report.rebuilt_fingerprint) {
        report.problems.push_back("projections differ from a rebuild from the event log");
    }
    return {};
}

Result<Scratch> Scratch::make(const fs::path& parent) {
    std::string pattern = (parent / "check-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
        return fail(ErrorCode::io, "cannot create a scratch directory in " + parent.string());
    }
    return Scratch(pattern);
}

Scratch::~Scratch() {
    if (!m_path.empty()) {
        std::error_code ec;
        fs::remove_all(m_path, ec);
    }
}

Result<void> backup(const fs::path& data_dir, const fs::path& file) {
    std::error_code ec;
    if (fs::exists(file, ec) && fs::equivalent(file, database_path(data_dir), ec)) {
        return fail(ErrorCode::invalid_input, "the backup file cannot be the live database");
    }
    auto store = Store::open(database_path(data_dir), existing_store());
    if (!store) {
        return tl::unexpected(store.error());
    }
    if (auto ok = (*store)->database().backup_to(file); !ok) {
        return ok;
    }
    storage::OpenOptions o;
    o.create = false;
    o.application_id = k_server_application_id;
    o.integrity_check = false;
    auto copy = storage::Database::open(file, o);
    if (!copy) {
        return fail(copy.error().code, "the backup could not be reopened: " + copy.error().message);
    }
    auto problems = copy->integrity_check();
    if (!problems) {
        return tl::unexpected(problems.error());
    }
    if (!problems->empty()) {
        return fail(ErrorCode::corrupt,
                    "the backup failed its integrity check: " + problems->front());
    }
    return {};
}

Result<RestoreResult> restore(const fs::path& data_dir, const fs::path& file) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
        return fail(ErrorCode::not_found, "no backup file at " + file.string());
    }
    auto lock = DataDirLock::acquire(data_dir);
    if (!lock) {
        if (lock.error().code == ErrorCode::busy) {
            return fail(ErrorCode::busy, lock.error().message + "; stop it before restoring");
        }
        return tl::unexpected(lock.error());
    }
    const fs::path live = database_path(data_dir);
    const fs::path staged = data_dir / "server.db.restoring";
    remove_database_files(staged);
    fs::copy_file(file, staged, fs::copy_options::overwrite_existing, ec);
    if (ec) {
        return fail(ErrorCode::io, "cannot copy " + file.string() + ": " + ec.message());
    }
    fs::permissions(staged, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    RestoreResult result;
    {
        StoreOptions o;
        o.create = false;
        o.migrate = true; // a backup from an older version is brought up to date
        o.integrity_check = true;
        auto store = Store::open(staged, o);
        if (!store) {
            remove_database_files(staged);
            return fail(store.error().code,
                        "the backup is not a usable server database: " + store.error().message);
        }
        auto problems = (*store)->database().integrity_check();
        if (!problems || !problems->empty()) {
            remove_database_files(staged);
            return fail(ErrorCode::corrupt, "the backup failed its integrity check");
        }
        auto epoch = Store::renew_epoch((*store)->database());
        if (!epoch) {
            remove_database_files(staged);
            return tl::unexpected(epoch.error());
        }
        result.epoch = *epoch;
        // Folds the WAL into the file so the staged database is one self-contained file.
        if (auto ok = (*store)->database().exec("PRAGMA wal_checkpoint(TRUNCATE)"); !ok) {
            remove_database_files(staged);
            return tl::unexpected(ok.error());
        }
    } // closed: the last connection removes the staged WAL
    if (auto ok = fsync_path(staged, false); !ok) {
        return tl::unexpected(ok.error());
    }
    if (fs::exists(live, ec)) {
        result.replaced = data_dir / ("server.db.replaced-" + utc_stamp());
        // The old WAL travels with its database, so the kept copy stays whole; the shared
        // memory index is rebuilt by whoever opens it.
        for (const char* suffix : {"-wal", ""}) {
            fs::path from = live.string() + suffix;
            if (fs::exists(from, ec)) {
                fs::rename(from, result.replaced.string() + suffix, ec);
                if (ec) {
                    return fail(ErrorCode::io,
                                "cannot move the current database aside: " + ec.message());
                }
            }
        }
        fs::remove(live.string() + "-shm", ec);
    }
    fs::rename(staged, live, ec);
    if (ec) {
        return fail(ErrorCode::io, "cannot put the restored database in place: " + ec.message());
    }
    remove_database_files(staged);
    if (auto ok = fsync_path(data_dir, true); !ok) {
        return tl::unexpected(ok.error());
    }
    return result;
}

Result<CheckReport> check(const fs::path& data_dir) {
    CheckReport report;
    auto store = Store::open(database_path(data_dir), existing_store());
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto problems = (*store)->database().integrity_check();
    if (!problems) {
        return tl::unexpected(problems.error());
    }
    for (const std::string& p : *problems) {
        report.problems.push_back("integrity: " + p);
    }
    if (!report.problems.empty()) {
        return report; // rebuilding from a damaged file proves nothing
    }

    auto scratch = Scratch::make(data_dir);
    if (!scratch) {
        return tl::unexpected(scratch.error());
    }
    const fs::path snapshot = scratch->path() / "snapshot.db";
    if (auto ok = (*store)->database().backup_to(snapshot); !ok) {
        return tl::unexpected(ok.error());
    }
    store->reset();
    storage::OpenOptions o;
    o.create = false;
    o.application_id = k_server_application_id;
    o.integrity_check = false;
    auto db = storage::Database::open(snapshot, o);
    if (!db) {
        return tl::unexpected(db.error());
    }

    for (const Invariant& inv : k_scope_invariants) {
        CARAVAN_TRY_VOID(count_violations(*db, inv, report));
    }
    for (const Invariant& inv : k_device_invariants) {
        CARAVAN_TRY_VOID(count_violations(*db, inv, report));
    }
    auto events = count(*db, "SELECT count(*) FROM events");
    auto rejected = count(*db, "SELECT count(*) FROM rejected_events");
    auto devices = count(*db, "SELECT count(*) FROM enrolled_devices");
    if (!events || !rejected || !devices) {
        return tl::unexpected(!events     ? events.error()
                              : !rejected ? rejected.error()
                                          : devices.error());
    }
    report.events = *events;
    report.rejected = *rejected;
    report.devices = *devices;

    CARAVAN_TRY_VOID(compare_with_rebuild(*db, report));
    return report;
}

} // namespace caravan::sync::server
