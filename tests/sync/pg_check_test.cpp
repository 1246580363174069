// `caravan-server check --store postgresql://…`: passes on a healthy store, names what is wrong
// on one damaged on purpose (a deleted feed row, a tampered projection cache).

#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "e2e_support.hpp"
#include "pg_cluster.hpp"
#include "server_test_support.hpp"

namespace {

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::server;
namespace fs = std::filesystem;

ProcessResult check_at(const e2e::Server& server, bool as_json = false) {
    std::vector<std::string> argv = {binary("caravan-server").string(), "check", "--data",
                                     server.data().string()};
    if (as_json) {
        argv.push_back("--json");
    }
    return run_process(server.with_store(argv), {}, {}, std::chrono::seconds(120));
}

Device enroll(e2e::Server& server, const std::string& code) {
    Device d{new_id(), ""};
    Http http(server.port());
    Reply r =
        http.post("/v1/enroll", "",
                  json{{"code", code}, {"device_id", d.id}, {"lawyer", "Test Lawyer"}}.dump());
    INFO(r.raw);
    REQUIRE(r.status == 200);
    d.token = r.body["token"].get<std::string>();
    return d;
}

} // namespace

TEST_CASE("postgresql: check passes on a healthy store and names what is wrong on a damaged one",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    e2e::Server server(dir / "a", url);
    Device d = enroll(server, server.code("Test Lawyer", {k_region_a}));
    Http http(server.port());
    Events ev(d.id);
    const std::string village = new_id();
    std::vector<storage::Event> events{ev.village(village, "Ауыл", k_region_a),
                                       ev.village(new_id(), "Elsewhere", k_region_b),
                                       ev.village(new_id(), "Үшінші", k_region_a)};
    REQUIRE(http.push(d.token, batch(d.id, events)).status == 200);
    ev.set_seq(3);
    REQUIRE(
        http.push(d.token, batch(d.id, {ev.make("village", village, {{"name", "Жаңа"}}, "update")}))
            .status == 200);

    ProcessResult healthy = check_at(server, true);
    INFO(e2e::describe(healthy));
    REQUIRE(healthy.exit_code == 0);
    json report = json::parse(healthy.out);
    CHECK(report["ok"] == true);
    CHECK(report["events"] == 3);
    CHECK(report["rejected"] == 1); // the village outside the device's region
    CHECK(report["devices"] == 1);
    CHECK(report["fingerprint"] == report["rebuilt_fingerprint"]);
    // The scratch cache is gone; the process's own cache stays.
    for (const auto& entry : fs::directory_iterator(dir / "a")) {
        CHECK(entry.path().filename().string().rfind("check-", 0) == std::string::npos);
    }
    CHECK(fs::is_directory(dir / "a" / "pg-cache"));

    SECTION("a projection cache that no longer matches the feed") {
        fs::path cache;
        for (const auto& entry : fs::directory_iterator(dir / "a" / "pg-cache")) {
            if (entry.path().extension() == ".db") {
                cache = entry.path();
            }
        }
        REQUIRE_FALSE(cache.empty());
        {
            auto db = ok(storage::Database::open(cache, {.create = false}));
            REQUIRE(db.exec("UPDATE villages SET name = 'tampered'"));
        }
        ProcessResult damaged = check_at(server);
        INFO(e2e::describe(damaged));
        CHECK(damaged.exit_code == 1);
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: this process's projection cache differs from one"
                                   " built afresh from the feed"));
        CHECK_THAT(damaged.out, Catch::Contains("FAILED: 3 events, 1 rejected, 1 devices"));
        CHECK_THAT(damaged.err, Catch::Contains("the check found 1 problem(s)"));
    }
    SECTION("a feed row deleted behind the server's back") {
        {
            srv::pg::Pool pool(url, 1);
            auto conn = ok(pool.acquire());
            REQUIRE(conn->run("DELETE FROM events WHERE log_position = 2"));
        }
        ProcessResult damaged = check_at(server);
        INFO(e2e::describe(damaged));
        CHECK(damaged.exit_code == 1);
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: feed positions missing below the head: 1"));
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: devices whose acked_seq does not match the events"
                                   " held for them: 1"));
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: the feed cannot be replayed into a projection cache"));
        CHECK_THAT(damaged.out, Catch::Contains("FAILED: 2 events, 1 rejected, 1 devices"));
    }
}

TEST_CASE("postgresql: after a restore's new epoch a process keeps only the new projection cache",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    auto pool = std::make_shared<srv::pg::Pool>(url, 2);
    srv::StoreOptions o;
    o.cache_dir = dir / "pg-cache";
    fs::create_directories(o.cache_dir);
    std::ofstream(o.cache_dir / "notes.txt") << "not a cache";
    auto store = ok(srv::Store::open_postgresql(pool, o));
    const std::string first = ok(store->feed().epoch());
    CHECK(fs::exists(o.cache_dir / ("cache-" + first + ".db")));

    // What docs/operations.md has the operator do after pg_restore.
    {
        auto conn = ok(pool->acquire());
        REQUIRE(conn->run("UPDATE meta SET value = 'feedfacefeedface' WHERE key = 'epoch'"));
    }
    REQUIRE(store->refresh());
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(o.cache_dir)) {
        files.insert(entry.path().filename().string());
    }
    CHECK(files.count("cache-feedfacefeedface.db") == 1);
    CHECK(files.count("notes.txt") == 1);
    for (const std::string& name : files) {
        INFO(name);
        CHECK(name.find(first) == std::string::npos);
    }
}
