// Issue 10, "one device's clock can stop every other device from ever syncing": a clock value
// far ahead of the receiver's own clock is refused per event by the server, is applied without
// moving a device's clock on pull, and a device whose clock was poisoned before this defence
// recovers without losing an event. docs/sync-algorithm.md (clock rules) and docs/security.md.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"
#include "server_test_support.hpp"

#include <limits>

#include "caravan/client/hlc.hpp"
#include "caravan/storage/event_log.hpp"

using namespace caravan;
using namespace caravan::test;
namespace ts = caravan::test::server;
using nlohmann::json;
using ts::ok_push;

namespace {

constexpr std::int64_t k_day = 24LL * 3600 * 1000;
constexpr std::int64_t k_year = 365 * k_day;

std::int64_t wall_now_ms() {
    return client::system_now_ms();
}

// A device record event of `device_id` at `seq` as raw JSON, with the clock written as given.
json raw_self(const std::string& device_id, std::int64_t seq, const std::string& hlc_hex) {
    return json{{"device_id", device_id},
                {"seq", seq},
                {"hlc", hlc_hex},
                {"entity_type", "device"},
                {"entity_id", device_id},
                {"op", "update"},
                {"payload", {{"fields", {{"lawyer", "Poisoner"}}}}},
                {"schema_version", 1}};
}

std::string token_of(const e2e::Laptop& laptop) {
    auto db = e2e::ok(storage::Database::open(laptop.db(), {.create = false}));
    sync::agent::AgentState state(db);
    auto enrolled = e2e::ok(state.enrollment());
    REQUIRE(enrolled);
    return enrolled->token;
}

// Every own event of the laptop carries a clock within a day of the real time.
void require_sane_clocks(const e2e::Laptop& laptop) {
    const std::int64_t ceiling = wall_now_ms() + k_day;
    for (const auto& [seq, e] : laptop.own_events()) {
        INFO("seq " << seq << " hlc " << client::Hlc{e.hlc}.to_hex());
        REQUIRE(e.hlc > 0);
        REQUIRE(client::Hlc{e.hlc}.wall_ms() <= ceiling);
    }
}

} // namespace

// ---- server: per-event refusal ---------------------------------------------------------------

TEST_CASE_METHOD(
    ts::OneDevice,
    "clock bound: the server refuses an event more than a day ahead of its clock per event, "
    "the events around it are accepted",
    "[server][clock]") {
    auto self = ev.self("Test Lawyer", ts::k_region_a);
    auto village = ev.village(ts::new_id(), "Қызылжар", ts::k_region_a);
    auto wild = ev.village(ts::new_id(), "Алыс", ts::k_region_a);
    wild.hlc = client::Hlc::from_parts(wall_now_ms() + 2 * k_day, 0).value;
    auto after = ev.village(ts::new_id(), "Жаңа", ts::k_region_a);

    auto r = ok_push(http.push(d.token, ts::batch(d.id, {self, village, wild, after})));
    CHECK(r.acked_seq == 4);
    REQUIRE(r.results.size() == 4);
    CHECK(r.results[0].fate == sync::EventFate::accepted);
    CHECK(r.results[1].fate == sync::EventFate::accepted);
    CHECK(r.results[2].fate == sync::EventFate::rejected);
    CHECK(r.results[2].code == "clock_ahead");
    CHECK(r.results[3].fate == sync::EventFate::accepted);
    CHECK(server.count("SELECT count(*) FROM rejected_events WHERE code = 'clock_ahead'") == 1);
    CHECK(server.count("SELECT count(*) FROM villages") == 2);

    // Within the bound (an hour ahead) is accepted.
    auto close = ev.village(ts::new_id(), "Жақын", ts::k_region_a);
    close.hlc = client::Hlc::from_parts(wall_now_ms() + 3600 * 1000, 0).value;
    auto r2 = ok_push(http.push(d.token, ts::batch(d.id, {close})));
    CHECK(r2.results.at(0).fate == sync::EventFate::accepted);
}

TEST_CASE_METHOD(
    ts::OneDevice,
    "clock bound: a clock with the sign bit or all 16 hex digits set is one refused event, "
    "never a 400 for the whole push",
    "[server][clock]") {
    json events = json::array({sync::event_to_json(ev.self("Test Lawyer", ts::k_region_a))});
    events[0].erase("server_seq");
    events.push_back(raw_self(d.id, 2, "7fffffffffffffff"));
    events.push_back(raw_self(d.id, 3, "8000000000000000"));
    events.push_back(raw_self(d.id, 4, "ffffffffffffffff"));
    auto ok_self = ev.make("device", d.id, {{"lawyer", "Honest"}}, "update");
    ok_self.seq = 5;
    json last = sync::event_to_json(ok_self);
    last.erase("server_seq");
    events.push_back(last);
    ts::Reply reply =
        http.post("/v1/push", d.token, json{{"device_id", d.id}, {"events", events}}.dump());
    auto r = ok_push(reply);
    CHECK(r.acked_seq == 5);
    REQUIRE(r.results.size() == 5);
    CHECK(r.results[0].fate == sync::EventFate::accepted);
    for (int i : {1, 2, 3}) {
        INFO("event " << i);
        CHECK(r.results[i].fate == sync::EventFate::rejected);
        CHECK(r.results[i].code == "clock_ahead");
    }
    CHECK(r.results[4].fate == sync::EventFate::accepted);

    // The refused copies are kept as sent: the same push again is all duplicates.
    auto again = ok_push(
        http.post("/v1/push", d.token, json{{"device_id", d.id}, {"events", events}}.dump()));
    for (const auto& res : again.results) {
        CHECK(res.fate == sync::EventFate::duplicate);
    }
}

// ---- end to end ------------------------------------------------------------------------------

namespace {

// The laptops of a poisoner `a` and of an honest lawyer `b`, both enrolled with the server; `a`
// has synced once.
struct PoisonerAndHonest {
    TempDir dir;
    e2e::Server server{dir / "server"};
    e2e::Laptop a{dir / "a.db"};
    e2e::Laptop b{dir / "b.db"};
    PoisonerAndHonest() {
        a.setup(server, "Poisoner");
        b.setup(server, "Honest");
        a.must_sync();
    }
};

} // namespace

TEST_CASE_METHOD(PoisonerAndHonest,
                 "clock bound e2e: a device that pushes its own record with clock 7fffffffffffffff "
                 "cannot stop another device from syncing",
                 "[e2e][clock]") {
    b.must_sync();

    // A writes its own device record under its own token by hand.
    ts::Http http(server.port());
    std::int64_t next = a.own_events().rbegin()->first + 1;
    ts::Reply reply =
        http.post("/v1/push", token_of(a),
                  json{{"device_id", a.device_id()},
                       {"events", json::array({raw_self(a.device_id(), next, "7fffffffffffffff")})}}
                      .dump());
    REQUIRE(reply.status == 200);
    REQUIRE(reply.body["results"][0]["fate"] == "rejected");
    REQUIRE(reply.body["results"][0]["code"] == "clock_ahead");

    b.must_sync();
    b.start_field_day();
    b.must({"consult", "add", "--gender", "female", "--age", "33-45", "--category", "unemployed",
            "--topic", "land", "--outcome", "advice", "--question", "сұрақ", "--advice", "кеңес",
            "--lang", "kk"});
    b.must_sync();
    b.must_sync({"--verify"});
    require_sane_clocks(b);
    json st = b.must_json({"status"});
    CHECK(st.dump().find("\"-") == std::string::npos);
    e2e::require_exactly_once(server, {&b});
}

TEST_CASE_METHOD(
    PoisonerAndHonest,
    "clock bound e2e: an event a server accepted from far ahead is applied on pull without "
    "moving the device's clock, and the device keeps syncing",
    "[e2e][clock]") {

    // What a server without the bound accepted: A's device record stamped 7fff..., written
    // into the feed by a store whose clock stands ten thousand years ahead.
    {
        ts::srv::StoreOptions o;
        o.create = false;
        o.integrity_check = false;
        o.clock = [] { return std::numeric_limits<std::int64_t>::max() / 4; };
        o.cache_dir = dir / "poison-cache";
        auto store = e2e::ok(server.store().empty()
                                 ? ts::srv::Store::open(server.data() / "server.db", o)
                                 : ts::srv::Store::open_postgresql(
                                       std::make_shared<ts::srv::pg::Pool>(server.store(), 1), o));
        auto device = store->registry().authenticate(token_of(a));
        REQUIRE(device);
        storage::Event e;
        e.device_id = a.device_id();
        e.seq = a.own_events().rbegin()->first + 1;
        e.hlc = std::numeric_limits<std::int64_t>::max();
        e.entity_type = "device";
        e.entity_id = a.device_id();
        e.op = "update";
        e.payload = json{{"fields", {{"lawyer", "Poisoner"}}}}.dump();
        e.schema_version = 1;
        auto pushed = store->feed().push(*device, sync::PushRequest{a.device_id(), {e}}, {});
        REQUIRE(pushed);
        REQUIRE(pushed->results.at(0).fate == sync::EventFate::accepted);
    }

    b.must_sync();
    b.start_field_day();
    b.must_sync();
    b.must_sync({"--verify"}); // the far-ahead event is held: nothing was dropped
    require_sane_clocks(b);
    e2e::require_exactly_once(server, {&b});
}

TEST_CASE("clock bound e2e: a device whose clock was poisoned before the fix re-stamps its "
          "unsynced events and syncs them all, nothing lost",
          "[e2e][clock]") {
    TempDir dir;
    e2e::Server server(dir / "server");
    e2e::Laptop b(dir / "b.db");
    b.setup(server, "Honest");
    b.start_field_day();
    b.must_sync();
    const std::int64_t acked = b.own_events().rbegin()->first;

    // Recorded while the laptop's clock stood ten years ahead, then the clock was put right.
    e2e::Laptop future(dir / "b.db", {{"CARAVAN_CLOCK_SKEW_MS", std::to_string(10 * k_year)}});
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
        json added =
            future.must_json({"consult", "add", "--gender", "male", "--age", "33-45", "--category",
                              "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                              "сұрақ " + std::to_string(i), "--advice", "кеңес", "--lang", "kk"});
        ids.push_back(added["id"].get<std::string>());
    }
    future.must({"consult", "edit", ids[1], "--outcome", "referred"});
    // And what the old arithmetic left: the stored clock at 7fff... and the last event stamped
    // with the overflowed value 8000000000000000.
    {
        auto db = e2e::ok(storage::Database::open(b.db(), {.create = false}));
        storage::Settings settings(db);
        REQUIRE(settings.set("hlc", "7fffffffffffffff"));
        auto stmt =
            e2e::ok(db.prepare("UPDATE events SET hlc = ? WHERE device_id = ? AND seq = ?"));
        stmt.bind_all(std::numeric_limits<std::int64_t>::min(), b.device_id(),
                      b.own_events().rbegin()->first);
        REQUIRE(stmt.run());
    }
    auto before = b.own_events();
    REQUIRE(before.size() == static_cast<std::size_t>(acked + 4));
    json st = b.must_json({"status"});
    CHECK(st.dump().find("\"-") == std::string::npos);

    b.must_sync();
    b.must_sync({"--verify"});
    auto after = b.own_events();
    REQUIRE(after.size() == before.size());
    for (const auto& [seq, e] : before) {
        INFO("seq " << seq);
        CHECK(after.at(seq).entity_id == e.entity_id);
        CHECK(after.at(seq).op == e.op);
        if (seq <= acked) {
            CHECK(after.at(seq).hlc == e.hlc); // acknowledged events are immutable
        }
    }
    require_sane_clocks(b);
    e2e::require_exactly_once(server, {&b});
    json quarantined = b.must_json({"status"});
    CHECK(quarantined.dump().find("clock_ahead") == std::string::npos);
    // The edit still wins over the create it edits.
    CHECK(b.must_json({"consult", "show", ids[1]})["outcome"] == "referred");
}
