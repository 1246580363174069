// caravan-server check --store postgresql://…: the embedded store's check, on PostgreSQL
// (maintenance.hpp).

#include <memory>
#include <system_error>

#include "caravan/client/projector.hpp"
#include "caravan/sync/server/maintenance.hpp"
#include "caravan/sync/server/pg.hpp"
#include "caravan/sync/server/store.hpp"
#include "check_support.hpp"

namespace caravan::sync::server {

namespace fs = std::filesystem;

namespace {

// PostgreSQL's own: the feed's positions and the rejected events' numbers are 1..head, dense.
constexpr Invariant k_feed_invariants[] = {
    {"feed positions missing below the head",
     "SELECT (SELECT last_position FROM feed_head) - count(*) FROM events"
     " WHERE log_position BETWEEN 1 AND (SELECT last_position FROM feed_head)"},
    {"events outside the positions 1..head",
     "SELECT count(*) FROM events"
     " WHERE log_position < 1 OR log_position > (SELECT last_position FROM feed_head)"},
    {"rejected event numbers missing below the head",
     "SELECT (SELECT last_rejected FROM feed_head) - count(*) FROM rejected_events"
     " WHERE rejected_no BETWEEN 1 AND (SELECT last_rejected FROM feed_head)"},
    {"rejected events outside the numbers 1..head",
     "SELECT count(*) FROM rejected_events"
     " WHERE rejected_no < 1 OR rejected_no > (SELECT last_rejected FROM feed_head)"},
};

Result<std::int64_t> count(pg::Connection& conn, std::string_view sql) {
    CARAVAN_TRY(rows, conn.exec(sql));
    return rows.int64(0, 0);
}

Result<void> check_rows(pg::Pool& pool, CheckReport& report) {
    CARAVAN_TRY(conn, pool.acquire());
    // One snapshot for every count: a server may be pushing meanwhile.
    CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
    CARAVAN_TRY_VOID(conn->run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"));
    auto add = [&](const Invariant& inv) -> Result<void> {
        CARAVAN_TRY(n, count(*conn, inv.sql));
        if (n != 0) {
            report.problems.push_back(std::string(inv.what) + ": " + std::to_string(n));
        }
        return {};
    };
    for (const Invariant& inv : k_feed_invariants) {
        CARAVAN_TRY_VOID(add(inv));
    }
    for (const Invariant& inv : k_device_invariants) {
        CARAVAN_TRY_VOID(add(inv));
    }
    CARAVAN_TRY(events, count(*conn, "SELECT count(*) FROM events"));
    CARAVAN_TRY(rejected, count(*conn, "SELECT count(*) FROM rejected_events"));
    CARAVAN_TRY(devices, count(*conn, "SELECT count(*) FROM enrolled_devices"));
    report.events = events;
    report.rejected = rejected;
    report.devices = devices;
    return tx.commit();
}

Result<std::unique_ptr<Store>> open_cache_store(const std::shared_ptr<pg::Pool>& pool,
                                                const fs::path& cache_dir) {
    StoreOptions o;
    o.create = false;
    o.migrate = false;
    o.integrity_check = false;
    o.cache_dir = cache_dir;
    return Store::open_postgresql(pool, o);
}

Result<std::int64_t> cache_head(Store& store) {
    CARAVAN_TRY(head, store.database()
                          .query("SELECT coalesce(max(log_position), 0) FROM events")
                          .one<std::int64_t>());
    return head.value_or(0);
}

// Compares the process's own cache (`own`) with `fresh`, both brought to the same head (a
// server may be pushing: a few tries).
Result<void> compare_caches(Store& own, Store& fresh, CheckReport& report) {
    constexpr int k_tries = 5;
    for (int i = 0; i < k_tries; ++i) {
        if (auto ok = own.refresh(); !ok) {
            report.problems.push_back("this process's projection cache: " + ok.error().message);
            return {};
        }
        CARAVAN_TRY_VOID(fresh.refresh());
        CARAVAN_TRY(own_head, cache_head(own));
        CARAVAN_TRY(fresh_head, cache_head(fresh));
        if (own_head != fresh_head) {
            continue;
        }
        CARAVAN_TRY(own_print, client::Projector(own.database()).fingerprint());
        CARAVAN_TRY(fresh_print, client::Projector(fresh.database()).fingerprint());
        if (own_print != fresh_print) {
            report.problems.push_back("this process's projection cache differs from one built "
                                      "afresh from the feed (delete the pg-cache directory)");
        }
        return {};
    }
    return fail(ErrorCode::busy, "the feed kept moving during the check; run it again");
}

} // namespace

Result<CheckReport> check_postgresql(std::shared_ptr<pg::Pool> pool, const fs::path& data_dir) {
    CheckReport report;
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    CARAVAN_TRY_VOID(check_rows(*pool, report));

    CARAVAN_TRY(scratch, Scratch::make(data_dir));
    CARAVAN_TRY(fresh, open_cache_store(pool, scratch.path()));
    if (auto replayed = fresh->refresh(); !replayed) {
        report.problems.push_back("the feed cannot be replayed into a projection cache: " +
                                  replayed.error().message);
        return report;
    }
    CARAVAN_TRY_VOID(compare_with_rebuild(fresh->database(), report));

    // This process's cache, when it has one for the current epoch.
    const fs::path own_dir = data_dir / "pg-cache";
    bool has_own = false;
    {
        CARAVAN_TRY(conn, pool->acquire());
        CARAVAN_TRY(epoch, conn->exec("SELECT value FROM meta WHERE key = 'epoch'"));
        has_own = !epoch.empty() && fs::exists(own_dir / ("cache-" + epoch.text(0, 0) + ".db"), ec);
    }
    if (has_own) {
        CARAVAN_TRY(own, open_cache_store(pool, own_dir));
        CARAVAN_TRY_VOID(compare_caches(*own, *fresh, report));
    }
    return report;
}

} // namespace caravan::sync::server
