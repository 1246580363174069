// The event log's clock-order rule (schema 3 checks it on append instead of keeping a unique
// (device_id, hlc) index), and the upgrade of a schema-2 log holding several devices' events.

#include <catch2/catch.hpp>

#include "caravan/storage/event_log.hpp"
#include "caravan/storage/migrations.hpp"
#include "event_log_fixture.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::storage;

namespace {

Event event(std::string device, std::int64_t seq, std::int64_t hlc) {
    return Event{std::move(device), seq, hlc, "thing", "id-" + std::to_string(seq), "create",
                 "{}",              1,   std::nullopt, 0};
}

std::int64_t count(Database& db, const std::string& sql) {
    auto stmt = db.prepare(sql);
    REQUIRE(stmt);
    REQUIRE(stmt->step().value());
    return stmt->column_int(0);
}

} // namespace

TEST_CASE_METHOD(test::FreshLog, "event log: a device's clock must rise with its sequence numbers",
                 "[storage]") {
    // Events may arrive in any order, as long as their clocks agree with their seqs.
    Event third = event("dev", 3, 300);
    REQUIRE(log.append(third).value());
    Event first = event("dev", 1, 100);
    REQUIRE(log.append(first).value());
    Event second = event("dev", 2, 200);
    REQUIRE(log.append(second).value());

    SECTION("a clock below an earlier seq's is refused") {
        Event late = event("dev", 4, 250);
        auto refused = log.append(late);
        REQUIRE_FALSE(refused);
        CHECK(refused.error().code == ErrorCode::conflict);
        CHECK(refused.error().message.find("clock") != std::string::npos);
    }
    SECTION("a clock above a later seq's is refused, also when it fills a gap") {
        Event gap_a = event("dev", 10, 1000);
        REQUIRE(log.append(gap_a).value());
        Event gap = event("dev", 7, 1000); // equal to its successor's clock
        CHECK_FALSE(log.append(gap));
        Event gap_low = event("dev", 7, 300); // equal to its predecessor's clock
        CHECK_FALSE(log.append(gap_low));
        Event fits = event("dev", 7, 700);
        CHECK(log.append(fits).value());
    }
    SECTION("another device's clocks are its own") {
        Event other = event("dev2", 1, 100);
        CHECK(log.append(other).value());
    }
    SECTION("the device's own next event may skip the check") {
        Event next = event("dev", 4, 400);
        CHECK(log.append(next, EventLog::ClockCheck::device_clock).value());
    }
    SECTION("an identical event appended again is still a no-op") {
        CHECK_FALSE(log.append(second).value());
    }
    // Nothing refused was stored.
    const std::int64_t stored = log.count().value();
    for (std::int64_t seq = 1; seq <= 10; ++seq) {
        auto found = log.find("dev", seq).value();
        if (found) {
            CHECK(found->hlc > 0);
        }
    }
    CHECK(stored == count(*db, "SELECT count(*) FROM events"));
    CHECK(count(*db, "SELECT count(*) FROM events e1 JOIN events e2 ON e1.device_id ="
                     " e2.device_id AND e1.seq < e2.seq AND e1.hlc >= e2.hlc") == 0);
}

TEST_CASE_METHOD(test::FreshLog,
                 "event log: a device's events can be removed from a seq on, for rotation",
                 "[storage]") {
    for (std::int64_t seq = 1; seq <= 5; ++seq) {
        Event e = event("dev", seq, seq * 100);
        REQUIRE(log.append(e).value());
        Event o = event("other", seq, seq * 100);
        REQUIRE(log.append(o).value());
    }
    CHECK(log.remove_from("dev", 3).value() == 3);
    CHECK(log.last_seq("dev").value() == 2);
    CHECK(log.last_seq("other").value() == 5);
    CHECK(log.remove_from("nobody", 1).value() == 0);
}

TEST_CASE("event log: a schema-2 log upgrades with every event, position and server seq kept",
          "[storage][migration]") {
    test::TempDir dir;
    {
        // The schema-2 layout, written as that version wrote it.
        auto db = Database::open(dir / "old.db");
        REQUIRE(db->exec(R"sql(
CREATE TABLE caravan_schema(component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT;
INSERT INTO caravan_schema VALUES('event_log', 2);
CREATE TABLE events(
    log_position INTEGER PRIMARY KEY, device_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq > 0), hlc INTEGER NOT NULL, entity_type TEXT NOT NULL,
    entity_id TEXT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL,
    schema_version INTEGER NOT NULL, server_seq INTEGER, UNIQUE (device_id, seq)) STRICT;
CREATE INDEX events_by_entity ON events(entity_id);
CREATE UNIQUE INDEX events_by_device_clock ON events(device_id, hlc);
INSERT INTO events VALUES
  (3, 'b-device', 1, 150, 'thing', 'x', 'create', '{"fields":{"a":"Қызылжар"}}', 1, 7),
  (5, 'a-device', 1, 100, 'thing', 'y', 'create', '{}', 1, NULL),
  (9, 'a-device', 2, 200, 'thing', 'x', 'update', '{"fields":{"a":"Ақши"}}', 1, 8),
  (12, 'b-device', 2, 250, 'thing', 'y', 'delete', '{}', 1, NULL);
)sql"));
    }
    auto db = Database::open(dir / "old.db");
    REQUIRE(EventLog::install(*db));
    CHECK(schema_version(*db, "event_log").value() == 3);
    EventLog log(*db);
    std::vector<Event> seen;
    REQUIRE(log.scan(0, 100, [&](const Event& e) {
        seen.push_back(e);
        return true;
    }));
    REQUIRE(seen.size() == 4);
    CHECK(seen[0].log_position == 3);
    CHECK(seen[0].device_id == "b-device");
    CHECK(seen[0].payload == R"({"fields":{"a":"Қызылжар"}})");
    CHECK(seen[0].server_seq == 7);
    CHECK(seen[1].log_position == 5);
    CHECK(seen[1].device_id == "a-device");
    CHECK_FALSE(seen[1].server_seq);
    CHECK(seen[2].log_position == 9);
    CHECK(seen[2].op == "update");
    CHECK(seen[3].log_position == 12);
    CHECK(seen[3].hlc == 250);
    CHECK(log.for_entity("x").value().size() == 2);
    CHECK(log.last_seq("a-device").value() == 2);
    CHECK(log.server_seq_known_upto("b-device").value() == 1);
    // New events continue the log after the highest position, under the same rules.
    Event next = event("a-device", 3, 300);
    REQUIRE(log.append(next).value());
    CHECK(next.log_position == 13);
    Event stale = event("b-device", 3, 250);
    CHECK_FALSE(log.append(stale));
    Event changed = event("a-device", 1, 100);
    CHECK_FALSE(log.append(changed)); // same key, different content
    CHECK(count(*db, "SELECT count(*) FROM sqlite_schema WHERE name = 'events_by_device_clock'") ==
          0);
    CHECK(db->integrity_check().value().empty());
}
