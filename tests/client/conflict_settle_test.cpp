// A conflict is settled (it leaves every list) by a later write of its field whose author had
// seen both sides: a lawyer who re-edits the field after `caravan conflicts` showed it, an
// undelete that answers a delete against an edit, a coordinator's "keep this value" on the
// dashboard. Settled the same way on every device, in any arrival order and after a rebuild.

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using test::SimDevice;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

ConsultationPatch question(const std::string& text) {
    ConsultationPatch p;
    p.question = text;
    return p;
}

ConsultationPatch outcome(const std::string& code) {
    ConsultationPatch p;
    p.outcome = code;
    return p;
}

// a and b edit the question concurrently, then exchange: one conflict on both.
struct ConcurrentQuestion : test::SharedConsultation {
    ConcurrentQuestion() {
        a.set_now(T + 60000);
        b.set_now(T + 60010);
        ok(a->edit_consultation(id, question("A нұсқасы")));
        ok(b->edit_consultation(id, question("B нұсқасы")));
        exchange();
        REQUIRE(ok(a->conflicts()).size() == 1);
        REQUIRE(ok(b->conflicts()).size() == 1);
    }
};

// Applies `events` in order to a fresh database: its fingerprint and its conflict count.
std::pair<std::string, std::size_t> replay(const std::filesystem::path& path,
                                           const std::vector<storage::Event>& events) {
    SimDevice fresh(path, T);
    for (storage::Event e : events) {
        e.log_position = 0;
        (void)ok(fresh->apply_remote(e));
    }
    return {test::fingerprint(*fresh), ok(fresh->conflicts()).size()};
}

// Every arrival order we try (as given, reversed, shuffled) and a rebuild agree with `device`.
void check_any_order_agrees(SimDevice& device, const std::filesystem::path& dir) {
    const std::string expected = test::fingerprint(*device);
    const std::size_t conflicts = ok(device->conflicts()).size();
    const auto events = test::all_events(*device);
    CHECK(replay(dir / "in-order.db", events) == std::pair{expected, conflicts});
    CHECK(replay(dir / "reversed.db", {events.rbegin(), events.rend()}) ==
          std::pair{expected, conflicts});
    std::mt19937 rng(20261206);
    for (int round = 0; round < 4; ++round) {
        auto order = events;
        std::shuffle(order.begin(), order.end(), rng);
        INFO("shuffle round " << round);
        CHECK(replay(dir / ("shuffled-" + std::to_string(round) + ".db"), order) ==
              std::pair{expected, conflicts});
    }
    test::TempDir scratch;
    CHECK(ok(device->check(scratch.path())).projections_match);
}

} // namespace

TEST_CASE("settle: a re-edit of the field by a lawyer who saw both values settles the conflict "
          "on every device",
          "[client][merge][settle]") {
    ConcurrentQuestion d;
    // a sees the conflict and writes the answer it wants kept (the losing side's text, here).
    d.a.set_now(T + 70000);
    ok(d.a->edit_consultation(d.id, question("A нұсқасы, тексерілді")));
    CHECK(ok(d.a->conflicts()).empty()); // settled here at once
    CHECK(ok(d.b->conflicts()).size() == 1); // b has not heard yet
    d.exchange();
    for (SimDevice* device : {&d.a, &d.b}) {
        CHECK(ok((*device)->find_consultation(d.id)).question == "A нұсқасы, тексерілді");
        CHECK(ok((*device)->conflicts()).empty());
        CHECK(ok((*device)->status()).conflicts == 0);
    }
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
    check_any_order_agrees(d.a, d.dir.path());
}

TEST_CASE("settle: the device whose value was kept settles it too by writing the field again",
          "[client][merge][settle]") {
    ConcurrentQuestion d;
    REQUIRE(ok(d.b->find_consultation(d.id)).question == "B нұсқасы"); // b's was kept
    d.b.set_now(T + 70000);
    ok(d.b->edit_consultation(d.id, question("B нұсқасы, толықтырылды")));
    const auto last = test::all_events(*d.b).back();
    const auto payload = nlohmann::json::parse(last.payload);
    REQUIRE(payload.contains("settles"));
    CHECK(payload["settles"].size() == 1);
    CHECK(payload["settles"][0][0] == "question");
    d.exchange();
    CHECK(ok(d.a->conflicts()).empty());
    CHECK(ok(d.b->conflicts()).empty());
    check_any_order_agrees(d.b, d.dir.path());
}

TEST_CASE("settle: an edit of another field does not settle the conflict",
          "[client][merge][settle]") {
    ConcurrentQuestion d;
    d.a.set_now(T + 70000);
    ok(d.a->edit_consultation(d.id, outcome("case")));
    d.exchange();
    for (SimDevice* device : {&d.a, &d.b}) {
        auto conflicts = ok((*device)->conflicts());
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0].field == "question");
    }
    check_any_order_agrees(d.a, d.dir.path());
}

TEST_CASE("settle: a write by a device that held only one side settles nothing, and a later one by "
          "a device that listed the conflict does",
          "[client][merge][settle]") {
    test::SharedConsultation d;
    SimDevice c(d.dir / "c.db", T + 700);
    ok(c->init("Үшінші", "Жамбыл обл."));
    test::deliver(*d.a, *c);
    d.a.set_now(T + 60000);
    d.b.set_now(T + 60010);
    ok(d.a->edit_consultation(d.id, question("A нұсқасы")));
    ok(d.b->edit_consultation(d.id, question("B нұсқасы")));
    // c hears b's edit only, and writes the field.
    test::deliver(*d.b, *c);
    c.set_now(T + 80000);
    ok(c->edit_consultation(d.id, question("C нұсқасы")));
    for (int round = 0; round < 2; ++round) {
        test::deliver(*d.a, *d.b);
        test::deliver(*d.b, *c);
        test::deliver(*c, *d.a);
    }
    for (SimDevice* device : {&d.a, &d.b, &c}) {
        CHECK(ok((*device)->find_consultation(d.id)).question == "C нұсқасы");
        // c's write named no conflict (c held b's value only): a against b stays listed.
        auto conflicts = ok((*device)->conflicts());
        REQUIRE(conflicts.size() == 1);
        CHECK(nlohmann::json::parse(conflicts[0].overwritten().value) == "A нұсқасы");
    }
    // Now a, having seen everything, writes the field: both conflicts are settled.
    d.a.set_now(T + 90000);
    ok(d.a->edit_consultation(d.id, question("Соңғы нұсқа")));
    for (int round = 0; round < 2; ++round) {
        test::deliver(*d.a, *d.b);
        test::deliver(*d.b, *c);
        test::deliver(*c, *d.a);
    }
    for (SimDevice* device : {&d.a, &d.b, &c}) {
        CHECK(ok((*device)->conflicts()).empty());
    }
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*c));
    check_any_order_agrees(c, d.dir.path());
}

TEST_CASE("settle: an undelete that saw the delete and the hidden edit settles that conflict",
          "[client][merge][settle][undelete]") {
    test::SharedConsultation d;
    d.a.set_now(T + 60000);
    d.b.set_now(T + 60010);
    ok(d.a->remove_consultation(d.id));
    ConsultationPatch advice;
    advice.advice = "Өңделген кеңес";
    ok(d.b->edit_consultation(d.id, advice));
    d.exchange();
    REQUIRE(ok(d.a->conflicts()).size() == 1);
    ok(d.a->undelete_consultation(d.id));
    d.exchange();
    for (SimDevice* device : {&d.a, &d.b}) {
        CHECK(ok((*device)->find_consultation(d.id)).advice == "Өңделген кеңес");
        CHECK(ok((*device)->conflicts()).empty());
    }
    check_any_order_agrees(d.b, d.dir.path());
}

TEST_CASE("settle: a database projected before the rule drops the conflicts its log settles "
          "when it is opened, and keeps the others",
          "[client][merge][settle][migration]") {
    test::TempDir dir;
    const auto path = dir / "older.db";
    std::vector<std::string> settled_row;
    {
        ConcurrentQuestion d;
        {
            auto raw = ok(storage::Database::open(d.dir / "a.db"));
            ok(raw.query("SELECT entity_type, entity_id, field, a_version, a_value, b_version,"
                         " b_value FROM conflicts")
                   .first([&](const storage::Statement& r) {
                       for (int c = 0; c < 7; ++c) {
                           settled_row.push_back(r.column_text(c));
                       }
                   }));
        }
        REQUIRE(settled_row.size() == 7);
        d.a.set_now(T + 70000);
        ok(d.a->edit_consultation(d.id, question("Шешілді")));
        REQUIRE(ok(d.a->conflicts()).empty());
        SimDevice older(path, T);
        for (storage::Event e : test::all_events(*d.a)) {
            e.log_position = 0;
            (void)ok(older->apply_remote(e));
        }
        REQUIRE(ok(older->conflicts()).empty());
    }
    // The file as an older program left it: the settled row still listed, another row no event
    // settles (versions no event has), and the projections' schema at version 1.
    {
        auto raw = ok(storage::Database::open(path));
        ok(raw.query("INSERT INTO conflicts VALUES(?,?,?,?,?,?,?)", settled_row[0], settled_row[1],
                     settled_row[2], settled_row[3], settled_row[4], settled_row[5],
                     settled_row[6])
               .run());
        ok(raw.query("INSERT INTO conflicts VALUES('consultation', ?, 'advice',"
                     " '0000000000000001@a', '\"x\"', '0000000000000002@b', '\"y\"')",
                     settled_row[1])
               .run());
        ok(raw.exec("UPDATE caravan_schema SET version = 1 WHERE component = 'projections'"));
    }
    auto engine = ok(Engine::open(path));
    auto conflicts = ok(engine.conflicts());
    REQUIRE(conflicts.size() == 1);
    CHECK(conflicts[0].field == "advice");
    // Brought to the latest version (3: the list-order indexes), step 2 included.
    auto raw = ok(storage::Database::open(path));
    CHECK(ok(raw.query("SELECT version FROM caravan_schema WHERE component = 'projections'")
                 .one<int>()) == std::optional<int>(3));
}

TEST_CASE("settle: an event's \"settles\" list is checked: a pair on a field it does not write, "
          "a malformed list or one on a create is refused",
          "[client][settle][validation]") {
    storage::Event e;
    e.device_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    e.entity_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
    e.entity_type = "consultation";
    e.op = "update";
    e.seq = 3;
    e.hlc = 1000;
    e.schema_version = 1;
    auto with = [&](const nlohmann::json& settles) {
        e.payload = nlohmann::json{{"fields", {{"question", "Жаңа"}}}, {"settles", settles}}.dump();
        return validate_event(e);
    };
    CHECK(with(nlohmann::json::array({{"question", "0001@a", "0002@b"}})));
    CHECK(with(nlohmann::json::array()));
    CHECK(test::error_of(with(nlohmann::json::array({{"advice", "0001@a", "0002@b"}}))) ==
          ErrorCode::invalid_input);
    CHECK(test::error_of(with(nlohmann::json::array({{"question", "0001@a"}}))) ==
          ErrorCode::invalid_input);
    CHECK(test::error_of(with(nlohmann::json::array({{"question", 1, 2}}))) ==
          ErrorCode::invalid_input);
    CHECK(test::error_of(with("question")) == ErrorCode::invalid_input);
    CHECK(test::error_of(with(nlohmann::json::array(
              {{"question", std::string(65, 'x'), "0002@b"}}))) == ErrorCode::invalid_input);
    nlohmann::json many = nlohmann::json::array();
    for (int i = 0; i < 65; ++i) {
        many.push_back({"question", "0001@a", "0002@b"});
    }
    CHECK(test::error_of(with(many)) == ErrorCode::invalid_input);
    e.op = "create";
    CHECK(test::error_of(with(nlohmann::json::array({{"question", "0001@a", "0002@b"}}))) ==
          ErrorCode::invalid_input);
}
