// A delete against an edit it had not seen: the listing says truthfully that the deletion was
// kept and the edit is hidden with the record, whichever came later; `undelete` brings the
// record back with an ordinary update that wins over the delete on every device, and settles
// the conflict it answers (tests/client/conflict_settle_test.cpp).

#include <catch2/catch.hpp>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using test::SimDevice;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

ConsultationPatch advice(const std::string& text) {
    ConsultationPatch p;
    p.advice = text;
    return p;
}

// a deletes the consultation while b, concurrently, edits its advice to "Өңделген кеңес" (the
// later of the two by 10 ms as `edit_later` says); then the devices exchange events.
struct DeleteAgainstEdit : test::SharedConsultation {
    explicit DeleteAgainstEdit(bool edit_later) {
        a.set_now(T + 60000 + (edit_later ? 0 : 10));
        b.set_now(T + 60000 + (edit_later ? 10 : 0));
        ok(a->remove_consultation(id));
        ok(b->edit_consultation(id, advice("Өңделген кеңес")));
        exchange();
    }
};

} // namespace

TEST_CASE("conflicts: a delete against an edit lists the deletion as kept and the edit as "
          "hidden, in both orders",
          "[client][merge][undelete]") {
    const bool edit_later = GENERATE(false, true);
    DYNAMIC_SECTION((edit_later ? "the edit is later" : "the delete is later")) {
        DeleteAgainstEdit d(edit_later);
        for (SimDevice* device : {&d.a, &d.b}) {
            CHECK(test::error_of((*device)->find_consultation(d.id)) == ErrorCode::not_found);
            auto conflicts = ok((*device)->conflicts());
            REQUIRE(conflicts.size() == 1);
            const ConflictEntry& c = conflicts[0];
            CHECK(c.delete_vs_edit());
            CHECK(c.record_deleted);
            CHECK(nlohmann::json::parse(c.kept().value) == true);
            auto hidden = nlohmann::json::parse(c.overwritten().value);
            CHECK(hidden["edited"]["advice"] == "Өңделген кеңес");
            CHECK(c.kept().version.ends_with(ok(d.a->device()).id));
            auto doc = to_json(c);
            CHECK(doc["kind"] == "delete_vs_edit");
            CHECK(doc["won"]["value"] == true);
            CHECK(doc["lost"]["value"]["edited"]["advice"] == "Өңделген кеңес");
            CHECK(doc["record_deleted"] == true);
        }
    }
}

TEST_CASE("undelete: a deleted consultation comes back here with one update event",
          "[client][undelete]") {
    test::TempDir dir;
    SimDevice a(dir / "a.db", T);
    test::start_field_day(*a);
    auto c = ok(a->add_consultation(test::consultation_input("Жер дауы")));
    ok(a->remove_consultation(c.id));
    REQUIRE(test::error_of(a->find_consultation(c.id)) == ErrorCode::not_found);
    auto events = test::event_count(*a);

    auto back = ok(a->undelete_consultation(c.id.substr(0, 8)));
    CHECK(back.id == c.id);
    CHECK(back.question == "Жер дауы");
    CHECK(ok(a->find_consultation(c.id)).question == "Жер дауы");
    CHECK(ok(a->status()).consultations == 1);
    CHECK(test::event_count(*a) == events + 1);
    auto last = test::all_events(*a).back();
    CHECK(last.op == "update");
    auto payload = nlohmann::json::parse(last.payload);
    CHECK(payload["fields"] == nlohmann::json{{"deleted", false}});
    CHECK(payload["base"].contains("deleted"));

    // Not deleted any more: nothing to bring back; an unknown id is not found.
    CHECK(test::error_of(a->undelete_consultation(c.id)) == ErrorCode::conflict);
    CHECK(test::error_of(a->undelete_consultation("ffffffff")) == ErrorCode::not_found);
    CHECK(test::error_of(a->undelete_consultation("x")) == ErrorCode::invalid_input);
    // A rebuild from the log gives the same rows.
    test::TempDir scratch;
    CHECK(ok(a->check(scratch.path())).projections_match);
}

TEST_CASE("undelete: the record comes back on every device with the edit the delete had hidden, "
          "and settles the conflict it answers",
          "[client][merge][undelete]") {
    const bool edit_later = GENERATE(false, true);
    DYNAMIC_SECTION((edit_later ? "the edit is later" : "the delete is later")) {
        DeleteAgainstEdit d(edit_later);
        // b's clock is behind a's delete in one order: the undelete still wins (HLC).
        d.b.set_now(T);
        auto back = ok(d.b->undelete_consultation(d.id));
        CHECK(back.advice == "Өңделген кеңес");
        d.exchange();
        for (SimDevice* device : {&d.a, &d.b}) {
            auto c = ok((*device)->find_consultation(d.id));
            CHECK(c.advice == "Өңделген кеңес");
            // The undelete saw both the delete and the edit: the pair is settled, and the
            // undelete is no new conflict.
            CHECK(ok((*device)->conflicts()).empty());
        }
        CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
    }
}

TEST_CASE("undelete: an edit made concurrently with the undelete is not a conflict with it",
          "[client][merge][undelete]") {
    test::SharedConsultation d;
    SimDevice c(d.dir / "c.db", T + 700);
    ok(c->init("Үшінші", "Жамбыл обл."));
    test::deliver(*d.a, *c);
    // a deletes; b hears of it and undeletes; c, having heard of neither, edits.
    d.a.set_now(T + 60000);
    ok(d.a->remove_consultation(d.id));
    test::deliver(*d.a, *d.b);
    d.b.set_now(T + 70000);
    ok(d.b->undelete_consultation(d.id));
    c.set_now(T + 65000);
    ok(c->edit_consultation(d.id, advice("c кеңесі")));
    for (int round = 0; round < 2; ++round) {
        test::deliver(*d.a, *d.b);
        test::deliver(*d.b, *c);
        test::deliver(*c, *d.a);
    }
    for (SimDevice* device : {&d.a, &d.b, &c}) {
        CHECK(ok((*device)->find_consultation(d.id)).advice == "c кеңесі");
        auto conflicts = ok((*device)->conflicts());
        REQUIRE(conflicts.size() == 1); // c's edit against a's delete, not against the undelete
        CHECK(conflicts[0].delete_vs_edit());
        CHECK(nlohmann::json::parse(conflicts[0].kept().value) == true);
        CHECK_FALSE(conflicts[0].record_deleted);
    }
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*d.b));
    CHECK(test::fingerprint(*d.a) == test::fingerprint(*c));
}

TEST_CASE("undelete: applied in either order against the delete, the record ends visible",
          "[client][merge][undelete]") {
    test::SharedConsultation d;
    d.a.set_now(T + 60000);
    ok(d.a->remove_consultation(d.id));
    test::deliver(*d.a, *d.b);
    ok(d.b->undelete_consultation(d.id));
    // A third device receives the undelete before the delete it answers.
    SimDevice c(d.dir / "c.db", T);
    ok(c->init("Үшінші", "Жамбыл обл."));
    auto events = test::all_events(*d.b);
    std::reverse(events.begin(), events.end());
    for (storage::Event& e : events) {
        e.server_seq.reset();
        e.log_position = 0;
        ok(c->apply_remote(e));
    }
    CHECK(ok(c->find_consultation(d.id)).id == d.id);
    test::deliver(*d.b, *d.a);
    CHECK(ok(d.a->find_consultation(d.id)).id == d.id);
}
