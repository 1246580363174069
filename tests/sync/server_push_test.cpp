#include "server_test_support.hpp"

#include <thread>

using namespace caravan;
using namespace caravan::test::server;

namespace {

// A device with a village, a visit and `n` consultations, all in region A.
std::vector<storage::Event> field_day(Events& ev, int n) {
    std::vector<storage::Event> events;
    std::string village = new_id(), visit = new_id();
    events.push_back(ev.self("Test Lawyer", k_region_a));
    events.push_back(ev.village(village, "Қызылжар", k_region_a));
    events.push_back(ev.visit(visit, village));
    for (int i = 0; i < n; ++i) {
        events.push_back(ev.consultation(new_id(), visit));
    }
    return events;
}

} // namespace

TEST_CASE_METHOD(
    OneDevice, "server push: the same batch twice is stored once, the second answer is duplicates",
    "[server]") {
    auto events = field_day(ev, 5);

    auto first = ok_push(http.push(d.token, batch(d.id, events)));
    CHECK(first.acked_seq == 8);
    REQUIRE(first.results.size() == 8);
    for (const auto& r : first.results) {
        CHECK(r.fate == sync::EventFate::accepted);
        CHECK(r.server_seq);
    }
    auto second = ok_push(http.push(d.token, batch(d.id, events)));
    CHECK(second.acked_seq == 8);
    REQUIRE(second.results.size() == 8);
    for (std::size_t i = 0; i < 8; ++i) {
        CHECK(second.results[i].fate == sync::EventFate::duplicate);
        CHECK(second.results[i].server_seq == first.results[i].server_seq);
    }
    CHECK(server.event_count() == 8);
    CHECK(server.count("SELECT count(*) FROM consultations") == 5);
}

TEST_CASE_METHOD(OneDevice,
                 "server push: an interrupted push resumes after acked_seq, overlap is harmless",
                 "[server]") {
    auto events = field_day(ev, 7); // seq 1..10
    std::vector<storage::Event> first(events.begin(), events.begin() + 4);
    CHECK(ok_push(http.push(d.token, batch(d.id, first))).acked_seq == 4);
    // The answer to the next batch (5..8) was lost: the device resends 5..10.
    std::vector<storage::Event> lost(events.begin() + 4, events.begin() + 8);
    CHECK(ok_push(http.push(d.token, batch(d.id, lost))).acked_seq == 8);
    std::vector<storage::Event> resend(events.begin() + 4, events.end());
    auto r = ok_push(http.push(d.token, batch(d.id, resend)));
    CHECK(r.acked_seq == 10);
    CHECK(r.results[0].fate == sync::EventFate::duplicate);
    CHECK(r.results[3].fate == sync::EventFate::duplicate);
    CHECK(r.results[4].fate == sync::EventFate::accepted);
    CHECK(server.event_count() == 10);
}

TEST_CASE_METHOD(OneDevice,
                 "server push: a gap is 409 sequence_gap with acked_seq and writes nothing",
                 "[server]") {
    auto events = field_day(ev, 3); // 1..6
    REQUIRE(ok_push(http.push(d.token, batch(d.id, {events[0], events[1]}))).acked_seq == 2);

    Reply r = http.push(d.token, batch(d.id, {events[3], events[4]})); // 4, 5: 3 is missing
    CHECK(r.status == 409);
    CHECK(r.code() == "sequence_gap");
    CHECK(r.body["acked_seq"] == 2);
    // A gap inside a batch: the valid prefix is not kept either.
    Reply inside = http.push(d.token, batch(d.id, {events[2], events[4]}));
    CHECK(inside.status == 409);
    CHECK(inside.body["acked_seq"] == 2);
    CHECK(server.event_count() == 2);
    Reply status = http.get("/v1/status", d.token);
    CHECK(status.body["acked_seq"] == 2);
}

TEST_CASE_METHOD(OneDevice,
                 "server push: the same seq with different content is 409 sequence_conflict and "
                 "nothing is written",
                 "[server]") {
    auto events = field_day(ev, 2); // 1..5
    REQUIRE(ok_push(http.push(d.token, batch(d.id, {events[0], events[1], events[2]}))).acked_seq ==
            3);
    // A device restored from an old backup wrote a different event 3, then 4 and 5.
    Events other(d.id);
    other.set_seq(2);
    storage::Event different = other.village(new_id(), "Басқа ауыл", k_region_a);
    REQUIRE(different.seq == 3);
    Reply r = http.push(d.token, batch(d.id, {different, events[3], events[4]}));
    CHECK(r.status == 409);
    CHECK(r.code() == "sequence_conflict");
    CHECK(server.event_count() == 3);
    CHECK(server.count("SELECT count(*) FROM consultations") == 0);
    CHECK(http.get("/v1/status", d.token).body["acked_seq"] == 3);
}

TEST_CASE_METHOD(
    OneDevice, "server push: a refused event is acknowledged as rejected and later events flow on",
    "[server]") {
    auto events = field_day(ev, 1); // 1..4, visit is events[2]
    const std::string visit = events[2].entity_id;
    events.push_back(ev.consultation(new_id(), visit, "martian")); // 5: bad enumeration code
    events.push_back(ev.consultation(new_id(), visit));            // 6
    auto r = ok_push(http.push(d.token, batch(d.id, events)));
    CHECK(r.acked_seq == 6);
    REQUIRE(r.results.size() == 6);
    CHECK(r.results[4].fate == sync::EventFate::rejected);
    CHECK(r.results[4].code == "invalid_event");
    CHECK(r.results[4].message.find("gender") != std::string::npos);
    CHECK(r.results[4].message.find("martian") == std::string::npos); // values never echoed
    CHECK_FALSE(r.results[4].server_seq);
    CHECK(r.results[5].fate == sync::EventFate::accepted);
    CHECK(server.event_count() == 5);
    CHECK(server.count("SELECT count(*) FROM rejected_events") == 1);

    // Resent: the refused one is a duplicate without a feed position, still out of the feed.
    auto again = ok_push(http.push(d.token, batch(d.id, events)));
    CHECK(again.results[4].fate == sync::EventFate::duplicate);
    CHECK_FALSE(again.results[4].server_seq);
    CHECK(server.event_count() == 5);
    // Its pull never shows it.
    for (const auto& e : pull_all(http, d.token)) {
        CHECK(e.seq != 5);
    }
}

TEST_CASE("server push: events for a region outside a lawyer's scope are rejected, not stored",
          "[server]") {
    TestServer server;
    Device a = server.enroll({k_region_a});
    Device b = server.enroll({k_region_b});
    Http http(server.port());
    Events eb(b.id);
    std::string village_b = new_id(), visit_b = new_id();
    auto rb = ok_push(http.push(
        b.token, batch(b.id, {eb.self("B", k_region_b), eb.village(village_b, "Ауыл", k_region_b),
                              eb.visit(visit_b, village_b)})));
    CHECK(rb.acked_seq == 3);

    Events ea(a.id);
    auto ra = ok_push(http.push(
        a.token,
        batch(a.id, {ea.self("A", k_region_a), ea.consultation(new_id(), visit_b), // region B visit
                     ea.village(new_id(), "Жаңа ауыл", k_region_b), // region B village
                     ea.make("device", b.id, {{"lawyer", "X"}}, "update")})));
    CHECK(ra.acked_seq == 4);
    CHECK(ra.results[0].fate == sync::EventFate::accepted);
    for (int i = 1; i < 4; ++i) {
        CHECK(ra.results[static_cast<std::size_t>(i)].fate == sync::EventFate::rejected);
        CHECK(ra.results[static_cast<std::size_t>(i)].code == "out_of_scope");
    }
    CHECK(server.count("SELECT count(*) FROM consultations") == 0);
}

TEST_CASE("server push: another device's events are 403 and nothing is written", "[server]") {
    TestServer server;
    Device a = server.enroll({k_region_a});
    Device b = server.enroll({k_region_a});
    Http http(server.port());
    Events eb(b.id);
    Reply r = http.push(a.token, batch(b.id, {eb.self("B", k_region_a)}));
    CHECK(r.status == 403);
    CHECK(r.code() == "forbidden");
    Events ea(a.id);
    Reply mixed = http.push(
        a.token, batch(a.id, {ea.self("A", k_region_a), eb.village(new_id(), "V", k_region_a)}));
    CHECK(mixed.status == 403);
    CHECK(server.event_count() == 0);
}

TEST_CASE_METHOD(
    OneDevice, "server push: no token, a wrong token and a revoked device get 401, nothing written",
    "[server]") {
    auto events = field_day(ev, 1);

    Reply none = http.push("", batch(d.id, events));
    CHECK(none.status == 401);
    CHECK(none.code() == "unauthenticated");
    std::string wrong = d.token;
    wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
    Reply bad = http.push(wrong, batch(d.id, events));
    CHECK(bad.status == 401);
    CHECK(bad.code() == "unauthenticated");
    CHECK(http.push("not-a-token", batch(d.id, events)).status == 401);
    CHECK(server.event_count() == 0);

    REQUIRE(http.push(d.token, batch(d.id, {events[0]})).status == 200);
    auto revoked = server.store()->registry().revoke(client::short_id(d.id));
    REQUIRE(revoked);
    CHECK(revoked->revoked());
    Reply after = http.push(d.token, batch(d.id, {events[1]}));
    CHECK(after.status == 401);
    CHECK(after.code() == "device_revoked");
    CHECK(http.get("/v1/pull?after=0", d.token).code() == "device_revoked");
    CHECK(http.get("/v1/status", d.token).code() == "device_revoked");
    CHECK(server.event_count() == 1);
}

TEST_CASE_METHOD(
    OneDevice, "server push: an event schema version from the future is 426 for the whole request",
    "[server]") {
    auto self = ev.self("A", k_region_a);
    auto future = ev.village(new_id(), "V", k_region_a);
    future.schema_version = client::k_event_schema_version + 1;
    Reply r = http.push(d.token, batch(d.id, {self, future}));
    CHECK(r.status == 426);
    CHECK(r.code() == "upgrade_required");
    CHECK(server.event_count() == 0);
}

TEST_CASE_METHOD(OneDevice, "server push: events out of seq order are 400", "[server]") {
    auto one = ev.self("A", k_region_a);
    auto two = ev.village(new_id(), "V", k_region_a);
    Reply r = http.push(d.token, batch(d.id, {two, one}));
    CHECK(r.status == 400);
    CHECK(r.code() == "malformed");
}

TEST_CASE("server push: concurrent devices all land, with distinct feed positions", "[server]") {
    TestServer server;
    constexpr int k_devices = 12, k_batches = 5, k_per_batch = 20;
    std::vector<Device> devices;
    for (int i = 0; i < k_devices; ++i) {
        devices.push_back(server.enroll({k_region_a}));
    }
    std::vector<std::string> failures(k_devices);
    std::vector<std::thread> threads;
    for (int i = 0; i < k_devices; ++i) {
        threads.emplace_back([&, i] {
            Http http(server.port());
            Events ev(devices[static_cast<std::size_t>(i)].id);
            std::string village = new_id(), visit = new_id();
            for (int b = 0; b < k_batches; ++b) {
                std::vector<storage::Event> events;
                if (b == 0) {
                    events.push_back(ev.village(village, "V" + std::to_string(i), k_region_a));
                    events.push_back(ev.visit(visit, village));
                }
                for (int k = 0; k < k_per_batch; ++k) {
                    events.push_back(ev.consultation(new_id(), visit));
                }
                Reply r = http.push(devices[static_cast<std::size_t>(i)].token,
                                    batch(ev.device(), events));
                if (r.status != 200 || r.body["acked_seq"] != ev.seq()) {
                    failures[static_cast<std::size_t>(i)] = "HTTP " + std::to_string(r.status);
                    return;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    for (const auto& f : failures) {
        CHECK(f.empty());
    }
    const std::int64_t expected = k_devices * (2 + k_batches * k_per_batch);
    CHECK(server.event_count() == expected);
    CHECK(server.count("SELECT count(DISTINCT log_position) FROM events") == expected);
    CHECK(server.count("SELECT max(log_position) FROM events") == expected);
}

TEST_CASE_METHOD(
    OneDevice,
    "server push: an event out of its device's clock order is refused on its own, never"
    " failing the whole push",
    "[server]") {
    auto one = ev.self("A", k_region_a);
    auto two = ev.village(new_id(), "V", k_region_a);
    auto three = ev.village(new_id(), "W", k_region_a);

    SECTION("a repeated clock value") {
        two.hlc = one.hlc; // a device bug: one clock value stamped twice
        auto r = ok_push(http.push(d.token, batch(d.id, {one, two, three})));
        CHECK(r.acked_seq == 3);
        CHECK(r.results[0].fate == sync::EventFate::accepted);
        CHECK(r.results[1].fate == sync::EventFate::rejected);
        CHECK(r.results[1].code == "invalid_event");
        CHECK(r.results[2].fate == sync::EventFate::accepted);
    }
    SECTION("a clock that goes back") {
        three.hlc = one.hlc - 1; // a later event stamped before an earlier one
        auto four = ev.village(new_id(), "X", k_region_a);
        auto r = ok_push(http.push(d.token, batch(d.id, {one, two, three, four})));
        CHECK(r.acked_seq == 4);
        CHECK(r.results[2].fate == sync::EventFate::rejected);
        CHECK(r.results[2].code == "invalid_event");
        CHECK(r.results[3].fate == sync::EventFate::accepted);
        CHECK(server.event_count() == 3);
    }
}
