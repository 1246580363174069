// The libpq layer of the server's PostgreSQL store (caravan/sync/server/pg.hpp) against a real,
// throwaway cluster (tests/support/pg_cluster.hpp).

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "caravan/sync/server/pg.hpp"
#include "must.hpp"
#include "pg_cluster.hpp"

using namespace caravan;
using namespace caravan::sync::server;

namespace {

pg::Connection connect(const std::string& url) {
    auto conn = pg::Connection::open(url);
    REQUIRE(conn);
    return std::move(*conn);
}

} // namespace

TEST_CASE("pg: values travel as parameters, NULL included, and come back as written", "[pg]") {
    CARAVAN_REQUIRE_POSTGRES();
    pg::Connection c = connect(test::PgCluster::shared().database());
    REQUIRE(c.run_script("CREATE TABLE t(id bigint PRIMARY KEY, name text, note text)"));
    // A value that would break string-built SQL is stored as it is.
    const std::string tricky = "O'Brien'); DROP TABLE t; --";
    REQUIRE(c.run("INSERT INTO t VALUES($1, $2, $3)",
                  pg::params(std::int64_t{1}, tricky, std::optional<std::string>())));
    auto rows = c.exec("SELECT id, name, note, note IS NULL FROM t WHERE id = $1",
                       pg::params(std::int64_t{1}));
    REQUIRE(rows);
    REQUIRE(rows->size() == 1);
    CHECK(rows->int64(0, 0) == 1);
    CHECK(rows->text(0, 1) == tricky);
    CHECK(rows->opt_text(0, 2) == std::nullopt);
    CHECK(rows->boolean(0, 3));
    auto updated = c.exec("UPDATE t SET note = $1", pg::params("x"));
    REQUIRE(updated);
    CHECK(updated->affected() == 1);
}

TEST_CASE("pg: an array parameter writes many rows in one statement, every value intact", "[pg]") {
    CARAVAN_REQUIRE_POSTGRES();
    pg::Connection c = connect(test::PgCluster::shared().database());
    REQUIRE(c.run_script("CREATE TABLE t(id bigint PRIMARY KEY, body text)"));
    const std::vector<pg::Param> bodies = {
        std::string(R"({"fields":{"q":"a \"quoted\" back\\slash, {braces}"}})"), std::nullopt,
        std::string("Жамбыл обл., NULL, \"")};
    REQUIRE(c.run("INSERT INTO t SELECT * FROM unnest($1::bigint[], $2::text[])",
                  {pg::array({"1", "2", "3"}), pg::array(bodies)}));
    auto rows = c.exec("SELECT body FROM t ORDER BY id");
    REQUIRE(rows);
    REQUIRE(rows->size() == 3);
    CHECK(rows->opt_text(0, 0) == bodies[0]);
    CHECK(rows->opt_text(1, 0) == std::nullopt);
    CHECK(rows->opt_text(2, 0) == bodies[2]);
}

TEST_CASE("pg: a duplicate key is a conflict, a bad statement internal, both named", "[pg]") {
    CARAVAN_REQUIRE_POSTGRES();
    pg::Connection c = connect(test::PgCluster::shared().database());
    REQUIRE(c.run_script("CREATE TABLE t(id bigint PRIMARY KEY)"));
    REQUIRE(c.run("INSERT INTO t VALUES($1)", pg::params(std::int64_t{7})));
    auto again = c.run("INSERT INTO t VALUES($1)", pg::params(std::int64_t{7}));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == ErrorCode::conflict);
    CHECK_THAT(again.error().message, Catch::Contains("23505"));
    auto bad = c.run("SELEKT 1");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::internal);
    CHECK(c.healthy());
}

TEST_CASE("pg: a transaction not committed is rolled back, a committed one stays", "[pg]") {
    CARAVAN_REQUIRE_POSTGRES();
    pg::Connection c = connect(test::PgCluster::shared().database());
    REQUIRE(c.run_script("CREATE TABLE t(id bigint PRIMARY KEY)"));
    {
        auto tx = pg::Transaction::begin(c);
        REQUIRE(tx);
        REQUIRE(c.run("INSERT INTO t VALUES(1)"));
    }
    {
        auto tx = pg::Transaction::begin(c);
        REQUIRE(tx);
        REQUIRE(c.run("INSERT INTO t VALUES(2)"));
        // A failed statement aborts the transaction; the destructor's rollback recovers.
        REQUIRE_FALSE(c.run("INSERT INTO t VALUES(2)"));
    }
    {
        auto tx = pg::Transaction::begin(c);
        REQUIRE(tx);
        REQUIRE(c.run("INSERT INTO t VALUES(3)"));
        REQUIRE(tx->commit());
    }
    auto rows = c.exec("SELECT string_agg(id::text, ',' ORDER BY id) FROM t");
    REQUIRE(rows);
    CHECK(rows->text(0, 0) == "3");
}

TEST_CASE("pg: an unreachable database is offline, and the password is not in the message",
          "[pg]") {
    auto conn = pg::Connection::open(
        "postgresql://caravan:s3cret@/nowhere?host=/nonexistent-dir&connect_timeout=2");
    REQUIRE_FALSE(conn);
    CHECK(conn.error().code == ErrorCode::offline);
    CHECK_THAT(conn.error().message, !Catch::Contains("s3cret"));
    CHECK(pg::redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db");
    CHECK(pg::redact("postgresql://u@h/db") == "postgresql://u@h/db");
    CHECK(pg::is_url("postgresql://h/db"));
    CHECK(pg::is_url("postgres://h/db"));
    CHECK_FALSE(pg::is_url("/var/lib/caravan"));
}

TEST_CASE("pg: the pool never opens more connections than its size", "[pg]") {
    CARAVAN_REQUIRE_POSTGRES();
    const std::string url = test::PgCluster::shared().database();
    pg::Pool pool(url, 2);
    pg::Connection probe = connect(url);
    std::atomic<int> failures = 0;
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 5; ++i) {
                auto lease = pool.acquire();
                if (!lease || !(*lease)->run("SELECT pg_sleep(0.01)")) {
                    ++failures;
                }
            }
        });
    }
    // Our own backends (the pool's and the probe) seen from the server while the threads run.
    int most = 0;
    for (int i = 0; i < 20; ++i) {
        auto rows = probe.exec("SELECT count(*) FROM pg_stat_activity WHERE datname ="
                               " current_database() AND pid <> pg_backend_pid()");
        REQUIRE(rows);
        most = std::max(most, static_cast<int>(rows->int64(0, 0)));
    }
    for (auto& t : threads) {
        t.join();
    }
    CHECK(failures == 0);
    CHECK(most <= 2);
}
