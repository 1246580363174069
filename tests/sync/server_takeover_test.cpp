// Device identity takeover (issue 10): every device learns every device id as reference data,
// so a fresh enrollment code offered with another device's id must never hand that id over.
// An id is enrolled once; the one repeat that is answered is the same enrollment whose answer
// was lost (same code, same id, before the device has used its token). Real server in this
// process on 127.0.0.1.
#include "server_test_support.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::server;

namespace {

// Everything enrollment can change, as text: the device records (with their token hashes and
// acknowledged sequences) and the codes' use.
std::string enrollment_state(TestServer& server) {
    auto s = server.store();
    std::string out;
    for (std::string_view sql :
         {"SELECT json_group_array(json_array(device_id, lawyer, role, regions, token_hash,"
          " enrolled_at, revoked_at, acked_seq, successor, predecessor, rotated_at))"
          " FROM (SELECT * FROM enrolled_devices ORDER BY device_id)",
          "SELECT json_group_array(json_array(code_hash, used_at, used_by))"
          " FROM (SELECT * FROM enrollment_codes ORDER BY code_hash)",
          "SELECT count(*) FROM events"}) {
        auto stmt = s->database().prepare(sql);
        REQUIRE(stmt);
        REQUIRE(stmt->step().value());
        out += stmt->column_text(0) + "\n";
    }
    return out;
}

// A device that still syncs: it pushes one more event of its own and pulls it back.
void require_still_syncs(Http& http, const Device& d, Events& events) {
    Reply status = http.get("/v1/status", d.token);
    REQUIRE(status.status == 200);
    REQUIRE(status.body["device"]["device_id"] == d.id);
    REQUIRE(status.body["acked_seq"] == events.seq());
    Reply pushed = http.push(
        d.token, batch(d.id, {events.village(new_id(), "Ақсу " + std::to_string(events.seq() + 1),
                                             k_region_a)}));
    REQUIRE(pushed.status == 200);
    REQUIRE(pushed.body["results"][0]["fate"] == "accepted");
    REQUIRE(pushed.body["acked_seq"] == events.seq());
    bool found = false;
    for (const auto& e : pull_all(http, d.token)) {
        found = found || (e.device_id == d.id && e.seq == events.seq());
    }
    REQUIRE(found);
}

// The takeover attempt: a fresh code with the victim's id. Refused with device_id_taken, and
// nothing at all was written (the code stays unused, the records are byte for byte the same).
void require_takeover_refused(TestServer& server, Http& http, const std::string& victim_id) {
    std::string fresh = server.code({k_region_b});
    std::string before = enrollment_state(server);
    Reply r = enroll_with(http, fresh, victim_id, "Mallory");
    INFO(r.raw);
    REQUIRE(r.status == 409);
    REQUIRE(r.code() == "device_id_taken");
    REQUIRE(!r.body.contains("token"));
    REQUIRE(enrollment_state(server) == before);
    REQUIRE(server.count("SELECT count(*) FROM enrollment_codes WHERE used_at IS NULL") >= 1);
    // The code is still good for a device id of its own.
    Reply own = enroll_with(http, fresh, new_id(), "Mallory");
    REQUIRE(own.status == 200);
}

// A device enrolled in region A that has pushed its own device record (so it has spoken).
Device enroll_and_push_identity(TestServer& server, Http& http) {
    Device d = server.enroll({k_region_a});
    Events events(d.id);
    push_identity(http, d, events);
    return d;
}

} // namespace

TEST_CASE("server takeover: a fresh code offered with an enrolled device's id is refused with "
          "device_id_taken, nothing is written and the victim still syncs",
          "[server][takeover]") {
    TestServer server;
    Http http(server.port());
    Device victim = server.enroll({k_region_a});

    SECTION("before the victim has made any request") {
        require_takeover_refused(server, http, victim.id);
        Events events(victim.id);
        push_identity(http, victim, events);
        require_still_syncs(http, victim, events);
    }
    SECTION("after the victim has pushed") {
        Events events(victim.id);
        REQUIRE(http.push(victim.token,
                          batch(victim.id, {events.self("Test Lawyer", k_region_a),
                                            events.village(new_id(), "Қызылжар", k_region_a)}))
                    .status == 200);
        require_takeover_refused(server, http, victim.id);
        require_still_syncs(http, victim, events);
        // A second attempt changes nothing either.
        require_takeover_refused(server, http, victim.id);
        require_still_syncs(http, victim, events);
    }
}

TEST_CASE("server takeover: a revoked device id is never enrolled again and stays revoked",
          "[server][takeover]") {
    TestServer server;
    Http http(server.port());
    Device victim = server.enroll({k_region_a});
    Events events(victim.id);
    push_identity(http, victim, events);
    REQUIRE(server.store()->registry().revoke(victim.id));

    require_takeover_refused(server, http, victim.id);
    CHECK(http.get("/v1/status", victim.token).code() == "device_revoked");
    CHECK(server.count("SELECT count(*) FROM enrolled_devices WHERE device_id = '" + victim.id +
                       "' AND revoked_at IS NOT NULL AND acked_seq = 1") == 1);
}

TEST_CASE("server takeover: neither a rotated predecessor's id nor its successor's id can be "
          "enrolled with a fresh code, and the successor still syncs",
          "[server][takeover][rotate]") {
    TestServer server;
    Http http(server.port());
    Device old = enroll_and_push_identity(server, http);
    std::string next = new_id();
    Reply rotated = rotate(http, old.token, old.id, next);
    REQUIRE(rotated.status == 200);
    Device successor{next, rotated.body["token"].get<std::string>()};
    Events events(next);
    push_identity(http, successor, events);

    SECTION("the predecessor") {
        require_takeover_refused(server, http, old.id);
    }
    SECTION("the successor") {
        require_takeover_refused(server, http, next);
    }
    require_still_syncs(http, successor, events);
    CHECK(http.get("/v1/status", old.token).code() == "device_rotated");
}

TEST_CASE("server enrollment: the same code repeated for the same new device id is answered as "
          "the first was until the device has used its token, and nothing else is",
          "[server][takeover]") {
    TestServer server;
    Http http(server.port());
    std::string code = server.code({k_region_a});
    std::string device = new_id();

    Reply first = enroll_with(http, code, device, "Mallory");
    REQUIRE(first.status == 200);
    // The answer was lost on the way: the device asks again with the same code.
    Reply again = enroll_with(http, code, device, "Mallory");
    INFO(again.raw);
    REQUIRE(again.status == 200);
    CHECK(again.body["device_id"] == device);
    CHECK(again.body["role"] == first.body["role"]);
    CHECK(again.body["regions"] == first.body["regions"]);
    CHECK(again.body["epoch"] == first.body["epoch"]);
    std::string token = again.body["token"];
    CHECK(token != first.body["token"]);
    CHECK(server.count("SELECT count(*) FROM enrolled_devices") == 1);
    // The token that never arrived is dead; the one that did works.
    CHECK(http.get("/v1/status", first.body["token"]).status == 401);

    // The same code for another id: the code is used up.
    std::string before = enrollment_state(server);
    Reply other = enroll_with(http, code, new_id(), "Mallory");
    CHECK(other.status == 403);
    CHECK(other.code() == "invalid_code");
    CHECK(enrollment_state(server) == before);

    // Once the device has spoken with its token, a repeat is a takeover like any other.
    Events events(device);
    push_identity(http, Device{device, token}, events);
    before = enrollment_state(server);
    Reply late = enroll_with(http, code, device, "Mallory");
    CHECK(late.status == 409);
    CHECK(late.code() == "device_id_taken");
    CHECK(enrollment_state(server) == before);
    Device d{device, token};
    require_still_syncs(http, d, events);
}

TEST_CASE("server store: a repeated enrollment is answered only within the code's validity and "
          "only for the record the code created",
          "[server][takeover]") {
    TempDir dir;
    std::int64_t now = k_day_ms;
    srv::StoreOptions o;
    o.clock = [&now] { return now; };
    auto store = srv::Store::open(dir / "server.db", o);
    REQUIRE(store);
    srv::Store& s = **store;
    auto code = s.registry().create_code({"Test Lawyer", {k_region_a}, srv::Role::lawyer, 1});
    REQUIRE(code);
    std::string device = new_id();

    now += 10 * 60 * 1000;
    auto first = s.registry().enroll(*code, device, {});
    REQUIRE(first);
    now += 10 * 60 * 1000;
    auto again = s.registry().enroll(*code, device, {});
    REQUIRE(again);
    CHECK(again->device.device_id == device);
    CHECK(again->device.enrolled_at_ms == first->device.enrolled_at_ms);
    CHECK(again->token != first->token);

    // Past the code's hour: the repeat is refused like any use of an expired code.
    now = k_day_ms + 61 * 60 * 1000;
    auto late = s.registry().enroll(*code, device, {});
    REQUIRE(!late);
    CHECK(late.error().code == "invalid_code");
    // The token of the last answer still works.
    CHECK(s.registry().authenticate(again->token));

    // A revoked device is not brought back by a repeat within the validity either.
    auto second_code =
        s.registry().create_code({"Test Lawyer", {k_region_a}, srv::Role::lawyer, 1});
    REQUIRE(second_code);
    std::string other = new_id();
    REQUIRE(s.registry().enroll(*second_code, other, {}));
    REQUIRE(s.registry().revoke(other));
    auto revived = s.registry().enroll(*second_code, other, {});
    REQUIRE(!revived);
    CHECK(revived.error().code == "device_id_taken");
    CHECK(s.registry().authenticate(again->token));
}

TEST_CASE("server rotate: after the successor has spoken, the predecessor's token can no longer "
          "claim it again, before that a repeat is answered",
          "[server][takeover][rotate]") {
    TestServer server;
    Http http(server.port());
    Device old = enroll_and_push_identity(server, http);

    std::string next = new_id();
    Reply first = rotate(http, old.token, old.id, next);
    REQUIRE(first.status == 200);
    // Before the successor spoke: the device's retry of a rotate whose answer was lost.
    Reply retry = rotate(http, old.token, old.id, next);
    REQUIRE(retry.status == 200);
    std::string token = retry.body["token"];
    CHECK(http.get("/v1/status", first.body["token"]).status == 401);

    // The successor speaks with its own token.
    Device successor{next, token};
    Events events(next);
    push_identity(http, successor, events);

    // The old token (say, in an old copy of the database) tries to claim the successor again.
    std::string before = enrollment_state(server);
    Reply reclaim = rotate(http, old.token, old.id, next);
    INFO(reclaim.raw);
    CHECK(reclaim.status == 409);
    CHECK(reclaim.code() == "device_id_taken");
    CHECK(!reclaim.body.contains("token"));
    CHECK(enrollment_state(server) == before);
    require_still_syncs(http, successor, events);
}

TEST_CASE("server rotate: a successor id the server already knows is refused with "
          "device_id_taken and nothing is written",
          "[server][takeover][rotate]") {
    TestServer server;
    Http http(server.port());
    Device a = server.enroll({k_region_a});
    Device other = server.enroll({k_region_a});
    Device revoked = server.enroll({k_region_a});
    REQUIRE(server.store()->registry().revoke(revoked.id));
    // A rotated pair elsewhere: p → q.
    Device p = server.enroll({k_region_a});
    std::string q = new_id();
    REQUIRE(rotate(http, p.token, p.id, q).status == 200);
    // And a's own chain: a → b; b then tries its predecessor and the others.
    std::string b = new_id();
    Reply ab = rotate(http, a.token, a.id, b);
    REQUIRE(ab.status == 200);
    std::string b_token = ab.body["token"];

    for (const std::string& target : {other.id, revoked.id, p.id, q, a.id}) {
        INFO("new id " << target);
        std::string before = enrollment_state(server);
        Reply r = rotate(http, b_token, b, target);
        CHECK(r.status == 409);
        CHECK(r.code() == "device_id_taken");
        CHECK(enrollment_state(server) == before);
    }
    CHECK(http.get("/v1/status", other.token).status == 200);
    CHECK(http.get("/v1/status", b_token).status == 200);
}

TEST_CASE("server store: devices enrolled before the upgrade that added first use count as having "
          "spoken, so their enrollment cannot be repeated",
          "[server][takeover]") {
    TempDir dir;
    std::int64_t now = k_day_ms;
    srv::StoreOptions o;
    o.clock = [&now] { return now; };
    std::string code, device = new_id(), token;
    {
        auto store = srv::Store::open(dir / "server.db", o);
        REQUIRE(store);
        code = (*store)
                   ->registry()
                   .create_code({"Test Lawyer", {k_region_a}, srv::Role::lawyer, 72})
                   .value();
        auto enrolled = (*store)->registry().enroll(code, device, {});
        REQUIRE(enrolled);
        token = enrolled->token;
        // Back to schema version 2, as a server database written before this version was.
        REQUIRE((*store)->database().exec(
            "ALTER TABLE enrolled_devices DROP COLUMN first_used_at;"
            " UPDATE caravan_schema SET version = 2 WHERE component = 'server'"));
    }
    now += 60 * 1000;
    auto store = srv::Store::open(dir / "server.db", o);
    REQUIRE(store);
    auto repeat = (*store)->registry().enroll(code, device, {});
    REQUIRE(!repeat);
    CHECK(repeat.error().code == "device_id_taken");
    auto known = (*store)->registry().authenticate(token);
    REQUIRE(known);
    CHECK(known->first_used_at_ms == k_day_ms);
}
