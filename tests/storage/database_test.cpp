#include <catch2/catch.hpp>

#include <fstream>

#include "caravan/storage/event_log.hpp"
#include "caravan/storage/transaction.hpp"
#include "event_log_fixture.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::storage;

TEST_CASE_METHOD(test::FreshLog, "event log: an identical event appended twice is stored once",
                 "[storage]") {
    Event e{"dev", 1, 100, "thing", "id-1", "create", "{}", 1, std::nullopt, 0};
    auto first = log.append(e);
    REQUIRE(first);
    CHECK(*first);
    auto second = log.append(e);
    REQUIRE(second);
    CHECK_FALSE(*second);
    CHECK(log.count().value() == 1);
}

TEST_CASE_METHOD(test::FreshLog, "event log: the same key with different content is refused",
                 "[storage]") {
    Event e{"dev", 1, 100, "thing", "id-1", "create", "{}", 1, std::nullopt, 0};
    REQUIRE(log.append(e));
    e.payload = R"({"changed":true})";
    auto again = log.append(e);
    REQUIRE_FALSE(again);
    CHECK(again.error().code == ErrorCode::conflict);
    CHECK(log.count().value() == 1);
}

TEST_CASE("transaction: rolled back unless committed", "[storage]") {
    test::TempDir dir;
    auto db = Database::open(dir / "a.db");
    REQUIRE(db->exec("CREATE TABLE t(x INTEGER)"));
    {
        auto tx = Transaction::begin(*db);
        REQUIRE(tx);
        REQUIRE(db->exec("INSERT INTO t VALUES(1)"));
    }
    auto stmt = db->prepare("SELECT count(*) FROM t");
    REQUIRE(stmt->step().value());
    CHECK(stmt->column_int(0) == 0);
}

TEST_CASE("database: a foreign file is refused with a clear error", "[storage]") {
    test::TempDir dir;
    {
        std::ofstream(dir / "junk.db") << std::string(8192, 'x');
    }
    auto db = Database::open(dir / "junk.db");
    REQUIRE_FALSE(db);
    CHECK(db.error().code == ErrorCode::corrupt);
    CHECK(db.error().message.find("junk.db") != std::string::npos);
}

TEST_CASE_METHOD(test::FreshLog, "event log: a device cannot stamp two events with one clock value",
                 "[storage]") {
    Event a{"dev", 1, 100, "thing", "id-1", "create", "{}", 1, std::nullopt, 0};
    Event b{"dev", 2, 100, "thing", "id-1", "update", R"({"x":1})", 1, std::nullopt, 0};
    Event other_device{"dev2", 1, 100, "thing", "id-1", "update", "{}", 1, std::nullopt, 0};
    REQUIRE(log.append(a));
    auto refused = log.append(b);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::conflict);
    CHECK(log.append(other_device).value());
    CHECK(log.count().value() == 2);
}
