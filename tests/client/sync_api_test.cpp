// The engine's API for sync (engine.hpp, "for sync"): the push acknowledgement it owns, and
// device rotation's local rewrite.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using caravan::test::ok;
using caravan::test::SimDevice;
using nlohmann::json;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

// A device with its day recorded (device, village, visit, three consultations: 6 events), the
// second consultation edited (7 events).
struct RecordedDevice {
    test::TempDir dir;
    SimDevice engine{dir / "device.db", T};
    std::string old_id;
    std::string edited;
    RecordedDevice() {
        test::start_field_day(*engine);
        for (const char* q : {"Жер", "Алимент", "Мұра"}) {
            engine.advance(1000);
            auto c = ok(engine->add_consultation(test::consultation_input(q)));
            edited = std::string(q) == "Алимент" ? c.id : edited;
        }
        engine.advance(1000);
        ConsultationPatch patch;
        patch.question = "Алимент, екінші рет";
        ok(engine->edit_consultation(edited, patch));
        old_id = ok(engine->device()).id;
    }
};

std::vector<storage::Event> own_events(Engine& engine, const std::string& id) {
    return ok(engine.device_events(id, 0, 1000));
}

} // namespace

TEST_CASE("engine sync: an acknowledged push records the feed positions, and status counts only "
          "the rest as unsynced",
          "[client][sync]") {
    RecordedDevice d;
    const std::int64_t last = ok(d.engine->last_seq(d.old_id));
    REQUIRE(last == 7);
    CHECK(ok(d.engine->push_acked_seq()) == 0);
    CHECK(ok(d.engine->status()).unsynced == 7);

    ok(d.engine->acknowledge_push(4, {{1, 101}, {2, 102}, {3, 103}, {4, 104}}));
    CHECK(ok(d.engine->push_acked_seq()) == 4);
    CHECK(ok(d.engine->server_seq_known_upto(d.old_id)) == 4);
    CHECK(ok(d.engine->find_event(d.old_id, 3))->server_seq == 103);
    auto st = ok(d.engine->status());
    CHECK(st.unsynced == 3);
    CHECK(st.oldest_unsynced == Hlc{ok(d.engine->find_event(d.old_id, 5))->hlc}.to_iso());

    // The server was restored from an older backup: everything after 2 is offered again.
    ok(d.engine->rewind_push_ack(2));
    CHECK(ok(d.engine->push_acked_seq()) == 2);
    CHECK(ok(d.engine->status()).unsynced == 5);
    ok(d.engine->forget_server_seqs());
    CHECK(ok(d.engine->server_seq_known_upto(d.old_id)) == 0);
    CHECK_FALSE(ok(d.engine->find_event(d.old_id, 1))->server_seq);

    // Inside a batch, with whatever else the caller writes there: all or nothing.
    auto failed = d.engine->batch([&]() -> Result<void> {
        if (auto done = d.engine->acknowledge_push(7, {{5, 105}}); !done) {
            return done;
        }
        return fail(ErrorCode::io, "the caller's own write failed"); // i18n-exempt: a test
    });
    REQUIRE_FALSE(failed);
    CHECK(ok(d.engine->push_acked_seq()) == 2);
    CHECK_FALSE(ok(d.engine->find_event(d.old_id, 5))->server_seq);
}

TEST_CASE("engine sync: an unreadable acknowledgement is refused as corrupt", "[client][sync]") {
    RecordedDevice d;
    {
        // Damaged by hand, on a connection of the test's own.
        auto raw = ok(storage::Database::open(d.dir / "device.db"));
        ok(storage::Settings(raw).set("push_acked_seq", "7x"));
    }
    auto acked = d.engine->push_acked_seq();
    REQUIRE_FALSE(acked);
    CHECK(acked.error().code == ErrorCode::corrupt);
    CHECK_THAT(acked.error().message, Catch::Contains("push_acked_seq"));
}

TEST_CASE("engine rotation: the events from from_seq are re-issued under the new id, with fresh "
          "clocks and renamed base versions, and nothing recorded is lost",
          "[client][sync][rotation]") {
    RecordedDevice d;
    ok(d.engine->acknowledge_push(5, {}));
    const std::string new_id = uuid_v7(T + 60'000);
    const auto before = own_events(*d.engine, d.old_id);
    const std::string shown_before = ok(d.engine->find_consultation(d.edited)).question;
    const std::int64_t highest_before = before.back().hlc;

    bool finished = false;
    auto done = ok(d.engine->reissue_under_new_id(d.old_id, new_id, 5, T + 60'000, [&] {
        finished = true;
        // Engine methods called here join the rotation's transaction.
        return d.engine->rewind_push_ack(0);
    }));
    CHECK(finished);
    CHECK_FALSE(done.already);
    CHECK(done.reissued == 3); // seqs 5, 6, 7
    CHECK(done.new_last_seq == 4);

    CHECK(ok(d.engine->device()).id == new_id);
    CHECK(ok(d.engine->push_acked_seq()) == 0);
    // The old id keeps what the server holds; the rest is the new id's.
    auto kept = own_events(*d.engine, d.old_id);
    REQUIRE(kept.size() == 4);
    CHECK(kept.back().seq == 4);
    auto moved = own_events(*d.engine, new_id);
    REQUIRE(moved.size() == 4);
    CHECK(moved[0].entity_type == "device");
    CHECK(moved[0].entity_id == new_id);
    CHECK(moved[0].op == "create");
    for (std::size_t i = 1; i < moved.size(); ++i) {
        CHECK(moved[i].entity_id == before[i + 3].entity_id);
        CHECK(moved[i].hlc > highest_before);
        CHECK(moved[i].hlc > moved[i - 1].hlc);
    }
    // The edit's base named the consultation's create, re-issued too: it names the new version.
    json edit = json::parse(moved.back().payload);
    REQUIRE(edit.contains("base"));
    for (const auto& [field, version] : edit["base"].items()) {
        CHECK(version.get<std::string>().ends_with("@" + new_id));
    }
    CHECK(ok(d.engine->find_consultation(d.edited)).question == shown_before);
    CHECK(ok(d.engine->status()).consultations == 3);

    // New writes continue the new id's sequence, with the rotation's clock.
    auto added = ok(d.engine->add_consultation(test::consultation_input("Кейін")));
    auto last = ok(d.engine->find_event(new_id, 5));
    REQUIRE(last);
    CHECK(last->entity_id == added.id);
    CHECK(last->hlc > moved.back().hlc);

    // Idempotent: asked again, nothing is done and `finish` does not run.
    finished = false;
    auto again = ok(d.engine->reissue_under_new_id(d.old_id, new_id, 5, T + 60'000, [&] {
        finished = true;
        return Result<void>{};
    }));
    CHECK(again.already);
    CHECK_FALSE(finished);
}

TEST_CASE("engine rotation: a failure anywhere, `finish` included, changes nothing, and foreign ids "
          "are refused",
          "[client][sync][rotation]") {
    RecordedDevice d;
    const std::string fp = test::fingerprint(*d.engine);
    const std::int64_t events = test::event_count(*d.engine);
    const std::string new_id = uuid_v7(T + 60'000);

    auto failed = d.engine->reissue_under_new_id(d.old_id, new_id, 2, T + 60'000, [] {
        return Result<void>(fail(ErrorCode::io, "finish failed")); // i18n-exempt: a test
    });
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code == ErrorCode::io);
    CHECK(ok(d.engine->device()).id == d.old_id);
    CHECK(test::event_count(*d.engine) == events);
    CHECK(ok(d.engine->last_seq(new_id)) == 0);
    CHECK(test::fingerprint(*d.engine) == fp);

    auto foreign = d.engine->reissue_under_new_id(uuid_v7(T), new_id, 2, T + 60'000,
                                                  [] { return Result<void>{}; });
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().code == ErrorCode::conflict);
    CHECK(ok(d.engine->device()).id == d.old_id);
}
