// POST /v1/rotate against a server in this process: who may rotate, to what, what the old and
// the new id may do afterwards, and that a repeated request (a lost answer) is harmless.
#include "server_test_support.hpp"

using namespace caravan;
using namespace caravan::test::server;

TEST_CASE("server rotate: the new id gets the same enrollment and the old id's events as its "
          "own, and the old id can push and pull no more",
          "[server][rotate]") {
    TestServer server;
    Http http(server.port());
    Device old = server.enroll({k_region_a});
    Events events(old.id);
    push_identity(http, old, events);

    std::string next = new_id();
    Reply r = rotate(http, old.token, old.id, next);
    REQUIRE(r.status == 200);
    CHECK(r.body["device_id"] == next);
    CHECK(r.body["predecessor"] == old.id);
    CHECK(r.body["role"] == "lawyer");
    CHECK(r.body["regions"] == json::array({k_region_a}));
    std::string token = r.body["token"];
    REQUIRE(token.size() == 64);
    CHECK(token != old.token);

    // The old id: closed, with the successor named.
    Reply push = http.push(old.token, batch(old.id, {}));
    CHECK(push.status == 401);
    CHECK(push.code() == "device_rotated");
    CHECK(push.body["successor"] == next);
    CHECK(http.get("/v1/pull", old.token).code() == "device_rotated");
    CHECK(http.get("/v1/status", old.token).code() == "device_rotated");

    // The new id starts at seq 1 and pulls the old id's events as its own.
    Reply status = http.get("/v1/status", token);
    REQUIRE(status.status == 200);
    CHECK(status.body["acked_seq"] == 0);
    auto pulled = pull_all(http, token);
    REQUIRE(pulled.size() == 1);
    CHECK(pulled[0].device_id == old.id);
    Events fresh(next);
    Reply pushed = http.push(token, batch(next, {fresh.self("Test Lawyer", k_region_a)}));
    REQUIRE(pushed.status == 200);
    CHECK(pushed.body["results"][0]["fate"] == "accepted");
    CHECK(server.count("SELECT count(*) FROM enrolled_devices WHERE device_id = '" + old.id +
                       "' AND successor = '" + next + "'") == 1);
}

TEST_CASE("server rotate: a repeated request for the same new id issues a fresh token, and another "
          "new id, a bad id, someone else's id and a revoked device are refused",
          "[server][rotate]") {
    TestServer server;
    Http http(server.port());
    Device old = server.enroll({k_region_a});
    Device other = server.enroll({k_region_a});

    CHECK(rotate(http, old.token, old.id, "not-a-uuid").code() == "malformed");
    CHECK(rotate(http, old.token, old.id, old.id).code() == "malformed");
    CHECK(rotate(http, old.token, old.id, other.id).code() == "device_id_taken"); // enrolled
    CHECK(rotate(http, old.token, other.id, new_id()).code() == "forbidden");
    CHECK(rotate(http, "", old.id, new_id()).code() == "unauthenticated");
    Reply garbage = http.post("/v1/rotate", old.token, "{\"device_id\": 5}");
    CHECK(garbage.status == 400);

    std::string next = new_id();
    Reply first = rotate(http, old.token, old.id, next);
    REQUIRE(first.status == 200);
    Reply again = rotate(http, old.token, old.id, next);
    REQUIRE(again.status == 200);
    CHECK(again.body["device_id"] == next);
    CHECK(again.body["token"] != first.body["token"]);
    // The newest token works, the one "lost on the way" does not.
    CHECK(http.get("/v1/status", again.body["token"]).status == 200);
    CHECK(http.get("/v1/status", first.body["token"]).status == 401);

    Reply elsewhere = rotate(http, old.token, old.id, new_id());
    CHECK(elsewhere.status == 401);
    CHECK(elsewhere.code() == "device_rotated");

    REQUIRE(server.store()->registry().revoke(other.id));
    CHECK(rotate(http, other.token, other.id, new_id()).code() == "device_revoked");
    // Nothing of the refused attempts was stored.
    CHECK(server.count("SELECT count(*) FROM enrolled_devices") == 3);
}
