// Last-writer-wins merge: several simulated devices record offline, exchange their event logs
// in every order, and must end with identical projections and the same list of conflicts.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "caravan/client/hlc.hpp"
#include "caravan/client/projector.hpp"
#include "engine_helpers.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using test::SimDevice;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

// Three lawyers' laptops. A records the day; B and C receive it, then all three edit offline at
// the same time; finally everyone exchanges everything.
struct ThreeDevices {
    explicit ThreeDevices(const test::TempDir& dir)
        : a(dir / "a.db", T), b(dir / "b.db", T + 100), c(dir / "c.db", T + 200) {}
    SimDevice a, b, c;
    std::string c1, c2, c3, c4, kok_tobe;
};

void record_history(ThreeDevices& d) {
    Visit visit = test::start_field_day(*d.a);
    d.a.advance(1000);
    d.c1 = ok(d.a->add_consultation(test::consultation_input("Жер телімінің шекарасы"))).id;
    d.a.advance(1000);
    d.c2 = ok(d.a->add_consultation(test::consultation_input("Алимент", "male"))).id;
    d.a.advance(1000);
    d.c3 = ok(d.a->add_consultation(test::consultation_input("Вопрос о наследстве"))).id;
    ok(d.a->add_attendance({std::nullopt, {"female", "46-58", "older", true}, 12}));
    ok(d.a->add_survey({std::nullopt, 10, 9}));

    // B and C were enrolled later (their ids sort after A's, C's after B's).
    ok(d.b->init("Гүлнар Сейітова", "Ақмола обл."));
    ok(d.c->init("Ержан Бекұлы", "Абай обл."));
    REQUIRE(test::deliver(*d.a, *d.b) > 0);
    REQUIRE(test::deliver(*d.a, *d.c) > 0);

    // Offline, at the same physical millisecond on B and C.
    d.b.set_now(T + 10000);
    d.c.set_now(T + 10000);
    ConsultationPatch question_b;
    question_b.question = "B: шекара дауы, сотқа дейін";
    ok(d.b->edit_consultation(d.c1, question_b));
    ConsultationPatch outcome_b;
    outcome_b.outcome = "referred";
    ok(d.b->edit_consultation(d.c2, outcome_b));
    d.kok_tobe = ok(d.b->add_village({"Көктөбе", "Абай обл.", std::string("Аягөз ауданы"),
                                      std::nullopt, std::nullopt}))
                     .id;
    ConsultationInput at_a_visit = test::consultation_input("Еңбек дауы");
    at_a_visit.visit = visit.id;
    d.c4 = ok(d.b->add_consultation(at_a_visit)).id;

    ConsultationPatch question_c;
    question_c.question = "C: шекара, жер комитетіне хат";
    ok(d.c->edit_consultation(d.c1, question_c));
    ok(d.c->remove_consultation(d.c2));
    REQUIRE(ok(d.c->add_village({"Көктөбе", "Абай обл.", std::string("Үржар ауданы"), std::nullopt,
                                 std::nullopt}))
                .id == d.kok_tobe);
    ConsultationPatch advice_c;
    advice_c.advice = "Нотариусқа бару";
    ok(d.c->edit_consultation(d.c3, advice_c));

    // A hears from B (not from C) and edits again; A's laptop clock is behind.
    REQUIRE(test::deliver(*d.b, *d.a) > 0);
    d.a.set_now(T + 5000);
    ConsultationPatch question_a;
    question_a.question = "A: шекара дауы шешілді";
    ok(d.a->edit_consultation(d.c1, question_a));
    ok(d.a->close_visit(std::nullopt));

    // Everyone exchanges everything (twice around, so every log holds every event).
    for (int round = 0; round < 2; ++round) {
        test::deliver(*d.a, *d.b);
        test::deliver(*d.b, *d.c);
        test::deliver(*d.c, *d.a);
    }
}

// The history above, recorded and exchanged: every event (in a's log order) and the converged
// fingerprint.
struct History {
    test::TempDir dir;
    ThreeDevices d{dir};
    std::vector<storage::Event> events;
    std::string expected;
    History() {
        record_history(d);
        events = test::all_events(*d.a);
        expected = test::fingerprint(*d.a);
    }
};

std::set<std::pair<std::string, std::string>> conflict_keys(Engine& engine) {
    std::set<std::pair<std::string, std::string>> keys;
    for (const ConflictEntry& c : ok(engine.conflicts())) {
        keys.emplace(c.entity_id, c.field);
    }
    return keys;
}

// Applies `events` in the given order to a fresh database and returns its fingerprint.
std::string replay(const std::filesystem::path& path, const std::vector<storage::Event>& events) {
    SimDevice fresh(path, T);
    for (storage::Event e : events) {
        e.log_position = 0;
        (void)ok(fresh->apply_remote(e));
    }
    return test::fingerprint(*fresh);
}

} // namespace

TEST_CASE_METHOD(History,
                 "merge: three devices that exchanged everything hold identical projections",
                 "[client][merge]") {
    CHECK(test::event_count(*d.b) == static_cast<std::int64_t>(events.size()));
    CHECK(test::event_count(*d.c) == static_cast<std::int64_t>(events.size()));
    CHECK(test::fingerprint(*d.b) == expected);
    CHECK(test::fingerprint(*d.c) == expected);

    // The converged content, as each lawyer sees it.
    for (SimDevice* device : {&d.a, &d.b, &d.c}) {
        Engine& e = **device;
        CHECK(ok(e.find_consultation(d.c1)).question == "A: шекара дауы шешілді");
        CHECK(test::error_of(e.find_consultation(d.c2)) == ErrorCode::not_found);
        CHECK(ok(e.find_consultation(d.c3)).advice == "Нотариусқа бару");
        CHECK(ok(e.find_consultation(d.c4)).question == "Еңбек дауы");
        auto kok_tobe = ok(e.find_village("Көктөбе"));
        CHECK(kok_tobe.id == d.kok_tobe);
        CHECK(kok_tobe.district == std::optional<std::string>("Үржар ауданы")); // C's id is larger
        auto st = ok(e.status());
        CHECK(st.consultations == 3);
        CHECK(st.villages == 2);
        CHECK(st.visits == 1);
        CHECK(st.open_visits == 0);
        CHECK(st.participants == 12);
        CHECK(st.surveys == 1);
        std::set<std::pair<std::string, std::string>> expected_conflicts = {
            {d.c1, "question"}, {d.c2, "deleted"}, {d.kok_tobe, "district"}};
        CHECK(conflict_keys(e) == expected_conflicts);
    }
}

TEST_CASE_METHOD(History,
                 "merge: the same event set applied in shuffled orders gives the same projection",
                 "[client][merge]") {
    REQUIRE(events.size() >= 20);

    // Reverse order first: every update and delete arrives before its create.
    std::vector<storage::Event> reversed(events.rbegin(), events.rend());
    CHECK(replay(dir / "reversed.db", reversed) == expected);

    std::mt19937 rng(20241124);
    for (int round = 0; round < 6; ++round) {
        std::vector<storage::Event> order = events;
        std::shuffle(order.begin(), order.end(), rng);
        INFO("shuffle round " << round);
        CHECK(replay(dir / ("shuffled-" + std::to_string(round) + ".db"), order) == expected);
    }
}

TEST_CASE_METHOD(History,
                 "merge: events delivered several times, in any order, change nothing more",
                 "[client][merge]") {
    std::mt19937 rng(99);
    std::uniform_int_distribution<int> copies(1, 3);
    std::vector<storage::Event> with_duplicates;
    for (const auto& e : events) {
        for (int k = copies(rng); k > 0; --k) {
            with_duplicates.push_back(e);
        }
    }
    std::shuffle(with_duplicates.begin(), with_duplicates.end(), rng);
    SimDevice fresh(dir / "dups.db", T);
    int fresh_count = 0;
    for (storage::Event e : with_duplicates) {
        fresh_count += ok(fresh->apply_remote(e)) ? 1 : 0;
    }
    CHECK(fresh_count == static_cast<int>(events.size()));
    CHECK(test::event_count(*fresh) == static_cast<std::int64_t>(events.size()));
    CHECK(test::fingerprint(*fresh) == expected);
}

TEST_CASE("merge: an event applied twice to the projections changes nothing", "[client][merge]") {
    test::TempDir dir;
    ThreeDevices d(dir);
    record_history(d);
    const std::string before = test::fingerprint(*d.a);
    const auto conflicts_before = ok(d.a->conflicts()).size();
    // Through the sync entry point: recognised as known.
    for (storage::Event e : test::all_events(*d.a)) {
        CHECK_FALSE(ok(d.a->apply_remote(e)));
    }
    CHECK(test::fingerprint(*d.a) == before);
    // Straight into the projector, bypassing the log's duplicate check: LWW alone is idempotent.
    auto events = test::all_events(*d.a);
    std::mt19937 rng(5);
    std::shuffle(events.begin(), events.end(), rng);
    ok(test::apply_to_projections(dir / "a.db", events));
    CHECK(test::fingerprint(*d.a) == before);
    CHECK(ok(d.a->conflicts()).size() == conflicts_before);
}

TEST_CASE("merge: rebuild() reproduces the same projection on every device", "[client][merge]") {
    test::TempDir dir;
    ThreeDevices d(dir);
    record_history(d);
    for (SimDevice* device : {&d.a, &d.b, &d.c}) {
        const std::string before = test::fingerprint(**device);
        ok((*device)->rebuild_projections());
        CHECK(test::fingerprint(**device) == before);
    }
}

TEST_CASE("merge: rebuild() on a single device's own log reproduces its projection",
          "[client][merge]") {
    test::TempDir dir;
    SimDevice a(dir / "a.db", T);
    test::start_field_day(*a);
    std::string id = ok(a->add_consultation(test::consultation_input("Жер"))).id;
    ConsultationPatch patch;
    patch.advice = "Сотқа арыз";
    patch.follow_up = true;
    ok(a->edit_consultation(id, patch));
    ok(a->add_consultation(test::consultation_input("Тұрғын үй")));
    const std::string before = test::fingerprint(*a);
    ok(a->rebuild_projections());
    CHECK(test::fingerprint(*a) == before);
    CHECK(ok(a->find_consultation(id)).follow_up);
}

// ---- conflicts between two devices ---------------------------------------------------------

namespace {

ConsultationPatch question(const std::string& text) {
    ConsultationPatch p;
    p.question = text;
    return p;
}

// Concurrent edits of the question: a writes `a_text` at `a_at`, b writes `b_text` at `b_at`.
void edit_question(test::SharedConsultation& d, std::int64_t a_at, const std::string& a_text,
                   std::int64_t b_at, const std::string& b_text) {
    d.a.set_now(a_at);
    d.b.set_now(b_at);
    ok(d.a->edit_consultation(d.id, question(a_text)));
    ok(d.b->edit_consultation(d.id, question(b_text)));
}

} // namespace

TEST_CASE("conflict: concurrent edits of one field resolve by (HLC, device id) and are listed",
          "[client][merge]") {
    test::SharedConsultation d;

    SECTION("same HLC: the larger device id wins") {
        edit_question(d, T + 60000, "A нұсқасы", T + 60000, "B нұсқасы");
        REQUIRE(test::all_events(*d.a).back().hlc == test::all_events(*d.b).back().hlc);
        d.exchange();
        for (SimDevice* device : {&d.a, &d.b}) {
            CHECK(ok((*device)->find_consultation(d.id)).question == "B нұсқасы");
            auto conflicts = ok((*device)->conflicts());
            REQUIRE(conflicts.size() == 1);
            CHECK(conflicts[0].entity_type == "consultation");
            CHECK(conflicts[0].entity_id == d.id);
            CHECK(conflicts[0].field == "question");
            CHECK(conflicts[0].a_version.ends_with("@" + d.a_id));
            CHECK(conflicts[0].b_version.ends_with("@" + d.b_id));
            CHECK(nlohmann::json::parse(conflicts[0].a_value) == "A нұсқасы");
            CHECK(nlohmann::json::parse(conflicts[0].b_value) == "B нұсқасы");
        }
        CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
    }

    SECTION("a later HLC wins over a larger device id") {
        edit_question(d, T + 60001, "A нұсқасы", T + 60000, "B нұсқасы");
        d.exchange();
        for (SimDevice* device : {&d.a, &d.b}) {
            CHECK(ok((*device)->find_consultation(d.id)).question == "A нұсқасы");
            auto conflicts = ok((*device)->conflicts());
            REQUIRE(conflicts.size() == 1);
            CHECK(conflicts[0].field == "question");
            CHECK(nlohmann::json::parse(conflicts[0].a_value) == "B нұсқасы"); // overwritten
            CHECK(nlohmann::json::parse(conflicts[0].b_value) == "A нұсқасы"); // kept
            CHECK(conflicts[0].a_version < conflicts[0].b_version);
        }
        CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
    }

    SECTION("concurrent edits that wrote the same value are not a conflict") {
        edit_question(d, T + 60000, "Бірдей мәтін", T + 60000, "Бірдей мәтін");
        d.exchange();
        CHECK(ok(d.a->conflicts()).empty());
        CHECK(ok(d.b->conflicts()).empty());
    }

    SECTION("concurrent edits of different fields merge without a conflict") {
        d.a.set_now(T + 60000);
        d.b.set_now(T + 60000);
        ok(d.a->edit_consultation(d.id, question("A нұсқасы")));
        ConsultationPatch outcome;
        outcome.outcome = "case";
        ok(d.b->edit_consultation(d.id, outcome));
        d.exchange();
        for (SimDevice* device : {&d.a, &d.b}) {
            auto c = ok((*device)->find_consultation(d.id));
            CHECK(c.question == "A нұсқасы");
            CHECK(c.outcome == "case");
            CHECK(ok((*device)->conflicts()).empty());
        }
    }
}

TEST_CASE("conflict: an edit made after seeing another edit is not a conflict, even with a "
          "clock that is behind",
          "[client][merge]") {
    test::SharedConsultation d;
    d.b.set_now(T + 3600000);
    ok(d.b->edit_consultation(d.id, question("B бірінші")));
    REQUIRE(test::deliver(*d.b, *d.a) == 1);
    d.a.set_now(T + 2000); // an hour behind B
    ok(d.a->edit_consultation(d.id, question("A екінші")));
    d.exchange();
    auto a_events = test::all_events(*d.a);
    for (SimDevice* device : {&d.a, &d.b}) {
        CHECK(ok((*device)->find_consultation(d.id)).question == "A екінші");
        CHECK(ok((*device)->conflicts()).empty());
    }
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
}

TEST_CASE("conflict: a delete concurrent with an edit is listed on \"deleted\" and the record "
          "stays deleted",
          "[client][merge]") {
    test::SharedConsultation d;
    auto edit_offset = GENERATE(-10, 0, 10); // the edit's clock before, equal to, after the delete
    d.a.set_now(T + 60000);
    d.b.set_now(T + 60000 + edit_offset);
    ok(d.a->remove_consultation(d.id));
    ok(d.b->edit_consultation(d.id, question("Өңделген")));
    d.exchange();
    for (SimDevice* device : {&d.a, &d.b}) {
        CHECK(test::error_of((*device)->find_consultation(d.id)) == ErrorCode::not_found);
        auto conflicts = ok((*device)->conflicts());
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0].entity_id == d.id);
        CHECK(conflicts[0].field == "deleted");
        std::string delete_value =
            conflicts[0].a_version.ends_with(d.a_id) ? conflicts[0].a_value : conflicts[0].b_value;
        CHECK(nlohmann::json::parse(delete_value) == true);
        CHECK(ok((*device)->status()).consultations == 0);
    }
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
}

TEST_CASE("conflict: a delete made after seeing the edit is not a conflict", "[client][merge]") {
    test::SharedConsultation d;
    d.b.set_now(T + 60000);
    ok(d.b->edit_consultation(d.id, question("Өңделген")));
    REQUIRE(test::deliver(*d.b, *d.a) == 1);
    ok(d.a->remove_consultation(d.id));
    d.exchange();
    for (SimDevice* device : {&d.a, &d.b}) {
        CHECK(test::error_of((*device)->find_consultation(d.id)) == ErrorCode::not_found);
        CHECK(ok((*device)->conflicts()).empty());
    }
}

TEST_CASE("merge: two creates of one natural-key record converge whatever the arrival order",
          "[client][merge]") {
    // Two lawyers add the same village offline; only one of them knows its district.
    test::TempDir dir;
    SimDevice a(dir / "a.db", T), b(dir / "b.db", T + 500);
    ok(a->init("Арнат Ұлтанбаев", "Жамбыл обл."));
    ok(b->init("Гүлнар Сейітова", "Ақмола обл."));
    b.set_now(T + 60000);
    auto with_district =
        ok(a->add_village({"Жаңаталап", "Ақтөбе обл.", std::string("Мұғалжар"), 50.25, 57.2}));
    auto without =
        ok(b->add_village({"Жаңаталап", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    REQUIRE(with_district.id == without.id);
    test::deliver(*a, *b);
    test::deliver(*b, *a);
    CHECK(test::fingerprint(*a) == test::fingerprint(*b));
    for (SimDevice* device : {&a, &b}) {
        auto v = ok((*device)->find_village("Жаңаталап"));
        CHECK_FALSE(v.district); // B's create is the later one and writes every field
        CHECK_FALSE(v.lat);
    }
}
