// A device database written by schema version 1 (tests/fixtures/device-schema-v1.db, made by
// tests/programs/make_fixture_v1.cpp) opens with this program: migrations run, no unsynced
// event is lost or altered, and the projections agree with a rebuild from the log.

#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/storage/migrations.hpp"
#include "engine_helpers.hpp"
#include "process.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using nlohmann::json;

namespace {

const std::filesystem::path k_fixtures =
    std::filesystem::path(CARAVAN_SOURCE_DIR) / "tests" / "fixtures";

json manifest() {
    std::ifstream in(k_fixtures / "device-schema-v1.json");
    REQUIRE(in);
    return json::parse(in);
}

std::filesystem::path copy_fixture(const test::TempDir& dir) {
    auto target = dir / "device.db";
    std::filesystem::copy_file(k_fixtures / "device-schema-v1.db", target);
    std::filesystem::permissions(target, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write);
    return target;
}

} // namespace

TEST_CASE("migration: the schema-v1 fixture is what its manifest says", "[client][migration]") {
    // Guards the fixture itself: it must stay a version-1 database, never be regenerated later.
    auto m = manifest();
    for (const char* component : {"event_log", "settings", "projections"}) {
        CHECK(m["schema_versions"][component] == 1);
    }
    test::TempDir dir;
    auto path = copy_fixture(dir);
    auto db = ok(storage::Database::open(path, {.create = false, .read_only = true}));
    for (const char* component : {"event_log", "settings", "projections"}) {
        auto stmt = ok(db.prepare("SELECT version FROM caravan_schema WHERE component = ?"));
        stmt.bind(1, component);
        REQUIRE(ok(stmt.step()));
        CHECK(stmt.column_int(0) == 1);
    }
}

TEST_CASE("migration: a schema-v1 device database opens with every unsynced event intact",
          "[client][migration]") {
    const json m = manifest();
    const json& expected_events = m["events"];
    REQUIRE(expected_events.size() >= 15);
    test::TempDir dir;
    auto path = copy_fixture(dir);
    auto engine = ok(Engine::open(path)); // runs the migrations

    // Every event, byte for byte, in the same log order.
    auto events = test::all_events(engine);
    REQUIRE(events.size() == expected_events.size());
    for (size_t i = 0; i < events.size(); ++i) {
        const json& want = expected_events[i];
        const storage::Event& got = events[i];
        INFO("event " << i);
        CHECK(got.device_id == want["device_id"].get<std::string>());
        CHECK(got.seq == want["seq"].get<std::int64_t>());
        CHECK(got.hlc == want["hlc"].get<std::int64_t>());
        CHECK(got.entity_type == want["entity_type"].get<std::string>());
        CHECK(got.entity_id == want["entity_id"].get<std::string>());
        CHECK(got.op == want["op"].get<std::string>());
        CHECK(got.payload == want["payload"].get<std::string>());
        CHECK(got.schema_version == want["schema_version"].get<int>());
        CHECK_FALSE(got.server_seq);
        CHECK(validate_event(got));
    }

    // The projections after migration are what the log says they are.
    const std::string migrated = test::fingerprint(engine);
    ok(engine.rebuild_projections());
    CHECK(test::fingerprint(engine) == migrated);

    // What the lawyer sees has not changed.
    auto status = ok(engine.status());
    const json& want_status = m["status"];
    CHECK(status.unsynced == static_cast<std::int64_t>(events.size()));
    CHECK(status.events == static_cast<std::int64_t>(events.size()));
    CHECK(status.consultations == want_status["consultations"].get<std::int64_t>());
    CHECK(status.villages == want_status["villages"].get<std::int64_t>());
    CHECK(status.visits == want_status["visits"].get<std::int64_t>());
    CHECK(status.participants == want_status["participants"].get<std::int64_t>());
    CHECK(status.photos == want_status["photos"].get<std::int64_t>());
    CHECK(status.surveys == want_status["surveys"].get<std::int64_t>());
    REQUIRE(status.device);
    CHECK(to_json(*status.device) == want_status["device"]);
    REQUIRE(status.current_visit);
    CHECK(to_json(*status.current_visit) == want_status["current_visit"]);
    json consultations = json::array();
    ok(engine.list_consultations({}, [&](const Consultation& c) {
        consultations.push_back(to_json(c));
        return true;
    }));
    CHECK(consultations == m["consultations"]);
    CHECK(ok(test::integrity_problems(path)).empty());
}

TEST_CASE("migration: new records can be added to a migrated schema-v1 database",
          "[client][migration]") {
    const json m = manifest();
    const auto fixture_events = static_cast<std::int64_t>(m["events"].size());
    test::TempDir dir;
    auto path = copy_fixture(dir);
    std::string new_id, old_id = m["consultations"][1]["id"];
    {
        auto engine = ok(Engine::open(path));
        auto c = ok(engine.add_consultation(test::consultation_input("Жаңа сұрақ")));
        new_id = c.id;
        CHECK(c.village == "Қызылжар"); // the fixture's current visit
        ok(engine.add_village({"Көктөбе", "Абай обл.", std::nullopt, std::nullopt, std::nullopt}));
        ConsultationPatch patch;
        patch.advice = "Сотқа талап арыз";
        ok(engine.edit_consultation(old_id, patch));
        auto events = test::all_events(engine);
        REQUIRE(static_cast<std::int64_t>(events.size()) == fixture_events + 3);
        // The device goes on with its own sequence and clock.
        CHECK(events.back().device_id == events.front().device_id);
        CHECK(events.back().seq == fixture_events + 3);
        CHECK(events.back().hlc > events[static_cast<size_t>(fixture_events) - 1].hlc);
        CHECK(ok(engine.status()).unsynced == fixture_events + 3);
    }
    auto engine = ok(Engine::open(path));
    CHECK(ok(engine.find_consultation(new_id)).question == "Жаңа сұрақ");
    CHECK(ok(engine.find_consultation(old_id)).advice == "Сотқа талап арыз");
    const std::string fp = test::fingerprint(engine);
    ok(engine.rebuild_projections());
    CHECK(test::fingerprint(engine) == fp);
}

TEST_CASE("migration: a database from a newer program is refused and left untouched",
          "[client][migration]") {
    const std::string component = GENERATE("event_log", "settings", "projections");
    INFO("component " << component);
    test::TempDir dir;
    auto path = copy_fixture(dir);
    {
        auto db = ok(storage::Database::open(path));
        // Far beyond any version this program will know, even after later migrations are added.
        auto bump = ok(db.prepare("UPDATE caravan_schema SET version = 1000 WHERE component = ?"));
        bump.bind(1, component);
        ok(bump.run());
        REQUIRE(db.changes() == 1);
    }
    const std::string before = test::read_file(path);
    REQUIRE_FALSE(before.empty());

    auto engine = Engine::open(path);
    REQUIRE_FALSE(engine);
    CHECK(engine.error().code == ErrorCode::upgrade_required);
    CHECK_THAT(engine.error().message, Catch::Contains(component));
    CHECK_THAT(engine.error().message, Catch::Contains("upgrade"));

    CHECK(test::read_file(path) == before);
    auto db = ok(storage::Database::open(path, {.create = false, .read_only = true}));
    CHECK(ok(storage::schema_version(db, component)) == 1000);
    auto count = ok(db.prepare("SELECT count(*) FROM events"));
    REQUIRE(ok(count.step()));
    CHECK(count.column_int(0) == static_cast<std::int64_t>(manifest()["events"].size()));
}

TEST_CASE("migration: a refused open does not half-migrate the components before the newer one",
          "[client][migration]") {
    // Regression: Engine::open migrated component by component, so a pending migration of an
    // earlier component was committed before a later, newer component refused the open.
    test::TempDir dir;
    auto path = copy_fixture(dir);
    {
        auto db = ok(storage::Database::open(path));
        // `settings` looks never installed (its migration is pending), `projections` is newer.
        ok(db.exec("DROP TABLE settings; DELETE FROM caravan_schema WHERE component = 'settings';"
                   "UPDATE caravan_schema SET version = 1000 WHERE component = 'projections';"));
    }
    const std::string before = test::read_file(path);

    auto engine = Engine::open(path);
    REQUIRE_FALSE(engine);
    CHECK(engine.error().code == ErrorCode::upgrade_required);

    CHECK(test::read_file(path) == before);
    auto db = ok(storage::Database::open(path, {.create = false, .read_only = true}));
    auto settings = ok(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'settings'"));
    REQUIRE(ok(settings.step()));
    CHECK(settings.column_int(0) == 0);
}

TEST_CASE("migration: a schema-v1 database's vulnerable flags keep their answers",
          "[client][migration][vulnerable]") {
    // Written when the flag was always given: every stored answer is still yes or no, none
    // became "not recorded".
    test::TempDir dir;
    auto path = copy_fixture(dir);
    auto engine = ok(Engine::open(path));
    const auto b =
        ok(exports::compute_breakdown(ok(engine.read_view()).database(), exports::Scope{}));
    std::int64_t answered = 0, unrecorded = -1;
    for (const auto& table : b.tables) {
        if (table.code != "vulnerable") {
            continue;
        }
        for (const auto& row : table.rows) {
            if (row.code == "unrecorded") {
                unrecorded = row.participants;
            } else {
                answered += row.participants;
            }
        }
    }
    CHECK(unrecorded == 0);
    CHECK(answered == b.participants);
    CHECK(b.participants > 0);
    ok(engine.list_consultations({}, [&](const Consultation& c) {
        CHECK(c.person.vulnerable.has_value());
        return true;
    }));
}
