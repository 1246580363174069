#include "server_test_support.hpp"

#include <algorithm>
#include <set>

#include "caravan/sync/server/maintenance.hpp"

using namespace caravan;
using namespace caravan::test::server;

namespace {

struct World {
    Device lawyer_a, lawyer_b, coordinator;
    std::vector<storage::Event> a_events, b_events;
    std::set<std::string> a_consultations, b_consultations;
};

// Lawyer A records in region A, lawyer B in region B; each pushes everything.
World populate(TestServer& server, Http& http, int consultations_each) {
    World w;
    w.lawyer_a = server.enroll({k_region_a});
    w.lawyer_b = server.enroll({k_region_b});
    w.coordinator = server.enroll({}, srv::Role::coordinator);
    auto record = [&](const Device& d, const std::string& region, std::vector<storage::Event>& out,
                      std::set<std::string>& ids) {
        Events ev(d.id);
        std::string village = new_id(), visit = new_id();
        out.push_back(ev.self("Lawyer", region));
        out.push_back(ev.village(village, "Ауыл", region));
        out.push_back(ev.visit(visit, village));
        for (int i = 0; i < consultations_each; ++i) {
            std::string id = new_id();
            ids.insert(id);
            out.push_back(ev.consultation(id, visit));
        }
        Reply r = http.push(d.token, batch(d.id, out));
        REQUIRE(r.status == 200);
        REQUIRE(r.body["acked_seq"] == static_cast<std::int64_t>(out.size()));
    };
    record(w.lawyer_a, k_region_a, w.a_events, w.a_consultations);
    record(w.lawyer_b, k_region_b, w.b_events, w.b_consultations);
    return w;
}

std::set<std::string> consultation_ids(const std::vector<storage::Event>& events) {
    std::set<std::string> ids;
    for (const auto& e : events) {
        if (e.entity_type == "consultation") {
            ids.insert(e.entity_id);
        }
    }
    return ids;
}

} // namespace

TEST_CASE("server pull: paging returns every visible event once, in feed order", "[server]") {
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 25);
    std::int64_t requests = 0;
    auto events = pull_all(http, w.coordinator.token, 7, &requests);
    CHECK(events.size() == w.a_events.size() + w.b_events.size());
    CHECK(requests >= static_cast<std::int64_t>(events.size() / 7));
    std::int64_t last = 0;
    for (const auto& e : events) {
        REQUIRE(e.server_seq);
        CHECK(*e.server_seq > last);
        last = *e.server_seq;
    }
    // Content round-trips exactly.
    for (std::size_t i = 0; i < w.a_events.size(); ++i) {
        CHECK(events[i] == w.a_events[i]);
    }
}

TEST_CASE("server pull: a lawyer never receives another region's records, a coordinator gets all",
          "[server]") {
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 10);

    auto a_sees = pull_all(http, w.lawyer_a.token, 4);
    auto ids = consultation_ids(a_sees);
    CHECK(ids == w.a_consultations);
    for (const auto& e : a_sees) {
        if (e.device_id == w.lawyer_b.id) {
            // Only B's reference data: its device record and its village.
            CHECK((e.entity_type == "device" || e.entity_type == "village"));
        }
    }
    CHECK(consultation_ids(pull_all(http, w.lawyer_b.token)) == w.b_consultations);

    auto all = consultation_ids(pull_all(http, w.coordinator.token));
    std::set<std::string> expected = w.a_consultations;
    expected.insert(w.b_consultations.begin(), w.b_consultations.end());
    CHECK(all == expected);
}

TEST_CASE("server pull: the cursor skips invisible events and reports no more at the head",
          "[server]") {
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 5);
    Reply r = http.get("/v1/pull?after=0&limit=1000", w.lawyer_a.token);
    REQUIRE(r.status == 200);
    std::int64_t head = http.get("/v1/status", w.lawyer_a.token).body["head"];
    CHECK(r.body["next_after"] == head);
    CHECK(r.body["more"] == false);
    Reply empty = http.get("/v1/pull?after=" + std::to_string(head), w.lawyer_a.token);
    CHECK(empty.body["events"].empty());
    CHECK(empty.body["next_after"] == head);
}

TEST_CASE("server pull: own_upto leaves out the device's own events up to that seq, and only "
          "those",
          "[server]") {
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 12);
    const auto own = static_cast<std::int64_t>(w.a_events.size());
    auto count_own = [&](const std::vector<storage::Event>& events) {
        return std::count_if(events.begin(), events.end(),
                             [&](const storage::Event& e) { return e.device_id == w.lawyer_a.id; });
    };
    // Without it: the echo of everything A pushed (older devices rely on it).
    auto echoed = pull_all(http, w.lawyer_a.token, 5);
    CHECK(count_own(echoed) == own);
    // All of A's own events held: none come back, everything else does, in small pages too.
    auto lean = pull_all(http, w.lawyer_a.token, 5, nullptr, "&own_upto=" + std::to_string(own));
    CHECK(count_own(lean) == 0);
    CHECK(lean.size() == echoed.size() - static_cast<std::size_t>(own));
    // A device that holds only the first 4 (restored from an older backup) gets the rest back.
    auto restored = pull_all(http, w.lawyer_a.token, 3, nullptr, "&own_upto=4");
    CHECK(count_own(restored) == own - 4);
    for (const auto& e : restored) {
        if (e.device_id == w.lawyer_a.id) {
            CHECK(e.seq > 4);
        }
    }
    // It never hides another device's events: the coordinator's own_upto concerns only itself.
    auto coordinator = pull_all(http, w.coordinator.token, 1000, nullptr, "&own_upto=1000");
    CHECK(coordinator.size() == w.a_events.size() + w.b_events.size());
    CHECK(http.get("/v1/pull?after=0&own_upto=-1", w.lawyer_a.token).status == 400);
    CHECK(http.get("/v1/pull?after=0&own_upto=x", w.lawyer_a.token).status == 400);
}

TEST_CASE("server pull: bad query parameters are 400", "[server]") {
    TestServer server;
    Http http(server.port());
    Device d = server.enroll({k_region_a});
    CHECK(http.get("/v1/pull?after=-1", d.token).status == 400);
    CHECK(http.get("/v1/pull?after=abc", d.token).status == 400);
    CHECK(http.get("/v1/pull?after=0&limit=0", d.token).status == 400);
    CHECK(http.get("/v1/verify?upto=x", d.token).status == 400);
    CHECK(http.get("/v1/pull?after=0&limit=100000", d.token).status == 200); // clamped
}

TEST_CASE("server verify: the digest equals one computed from the pushed events", "[server]") {
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 8);

    // Lawyer A sees its own events and B's reference data (device, village).
    sync::SetDigest expected_a;
    for (const auto& e : w.a_events) {
        expected_a.add(e);
    }
    for (const auto& e : w.b_events) {
        if (e.entity_type == "device" || e.entity_type == "village") {
            expected_a.add(e);
        }
    }
    Reply r = http.get("/v1/verify", w.lawyer_a.token);
    REQUIRE(r.status == 200);
    CHECK(r.body["count"] == expected_a.count());
    CHECK(r.body["digest"] == expected_a.hex());

    // And the same from what A pulled, up to A's cursor.
    sync::SetDigest pulled;
    for (const auto& e : pull_all(http, w.lawyer_a.token)) {
        pulled.add(e);
    }
    CHECK(pulled.hex() == expected_a.hex());

    // A partial range: the coordinator up to the end of A's push sees exactly A's events.
    sync::SetDigest only_a;
    for (const auto& e : w.a_events) {
        only_a.add(e);
    }
    Reply partial =
        http.get("/v1/verify?upto=" + std::to_string(w.a_events.size()), w.coordinator.token);
    REQUIRE(partial.status == 200);
    CHECK(partial.body["upto"] == static_cast<std::int64_t>(w.a_events.size()));
    CHECK(partial.body["digest"] == only_a.hex());
}

TEST_CASE("server restore: a restored server has a new epoch, an old-epoch pull is 409 "
          "epoch_changed",
          "[server]") {
    CARAVAN_EMBEDDED_STORE_ONLY("backup and restore of the SQLite file (PostgreSQL: pg_dump)");
    TestServer server;
    Http http(server.port());
    Device d = server.enroll({k_region_a});
    Events ev(d.id);
    std::string village = new_id(), visit = new_id();
    REQUIRE(http.push(d.token, batch(d.id, {ev.self("A", k_region_a),
                                            ev.village(village, "Ауыл", k_region_a)}))
                .status == 200);
    std::string old_epoch = http.get("/v1/status", d.token).body["epoch"];
    REQUIRE(srv::backup(server.data_dir(), server.scratch("backup.db")));
    // After the backup the device pushed more.
    REQUIRE(http.push(d.token, batch(d.id, {ev.visit(visit, village)})).status == 200);

    // Restore refuses while the server runs.
    auto refused = srv::restore(server.data_dir(), server.scratch("backup.db"));
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::busy);

    server.stop();
    auto restored = srv::restore(server.data_dir(), server.scratch("backup.db"));
    REQUIRE(restored);
    CHECK(restored->epoch != old_epoch);
    CHECK(std::filesystem::exists(restored->replaced));
    server.start();

    Http again(server.port());
    Reply pull = again.get("/v1/pull?after=3&epoch=" + old_epoch, d.token);
    CHECK(pull.status == 409);
    CHECK(pull.code() == "epoch_changed");
    CHECK(pull.body["epoch"] == restored->epoch);
    // The restored server acknowledges only what the backup held: the device re-pushes 3.
    Reply status = again.get("/v1/status", d.token);
    CHECK(status.body["acked_seq"] == 2);
    CHECK(status.body["epoch"] == restored->epoch);
    Reply gap = again.push(d.token, batch(d.id, {ev.consultation(new_id(), visit)}));
    CHECK(gap.code() == "sequence_gap");
    CHECK(gap.body["acked_seq"] == 2);
    // Pull with the new epoch from 0 works.
    Reply fresh = again.get("/v1/pull?after=0&epoch=" + restored->epoch, d.token);
    CHECK(fresh.status == 200);
    CHECK(fresh.body["events"].size() == 2);
}

TEST_CASE("server check: projections rebuilt from the log match, backups check too", "[server]") {
    CARAVAN_EMBEDDED_STORE_ONLY("check of the SQLite file and its backups");
    TestServer server;
    Http http(server.port());
    World w = populate(server, http, 6);
    // An edit, so per-field versions matter.
    Events ev(w.lawyer_a.id);
    ev.set_seq(static_cast<std::int64_t>(w.a_events.size()));
    std::string id = *w.a_consultations.begin();
    REQUIRE(http.push(w.lawyer_a.token,
                      batch(w.lawyer_a.id,
                            {ev.make("consultation", id, {{"outcome", "referred"}}, "update")}))
                .status == 200);
    auto report = srv::check(server.data_dir());
    REQUIRE(report);
    CHECK(report->ok());
    CHECK(report->fingerprint == report->rebuilt_fingerprint);
    CHECK(report->events == static_cast<std::int64_t>(w.a_events.size() + w.b_events.size() + 1));
    CHECK(report->devices == 3);
}
