// The protocol's codecs (sync/protocol): every body round-trips through its struct, and a body a
// peer could not act on is refused with a message naming the key.

#include <catch2/catch.hpp>

#include "caravan/sync/protocol.hpp"
#include "caravan/sync/protocol/enroll.hpp"
#include "caravan/sync/protocol/error_body.hpp"
#include "caravan/sync/protocol/rotate.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/protocol/status.hpp"
#include "caravan/sync/protocol/verify.hpp"

using namespace caravan;
using nlohmann::json;

TEST_CASE("protocol: enroll request and answer round-trip, and a missing key is named",
          "[protocol]") {
    sync::EnrollRequest request{"K7Q-94X-2MC", "d1", "Айгүл", "caravan/0.1.0"};
    json j = sync::to_json(request);
    REQUIRE(j.dump() == R"({"app_version":"caravan/0.1.0","code":"K7Q-94X-2MC",)"
                        R"("device_id":"d1","lawyer":"Айгүл"})");
    auto back = sync::enroll_request_from_json(j);
    REQUIRE(back);
    CHECK(back->code == request.code);
    CHECK(back->lawyer == request.lawyer);
    auto bad = sync::enroll_request_from_json(json{{"code", 7}, {"device_id", "d1"}});
    REQUIRE(!bad);
    CHECK(bad.error().message == "\"code\" and \"device_id\" must be strings");

    sync::EnrollResponse answer{"d1",  std::string(64, 'a'), "lawyer",
                                {"A"}, "00000000000000e1",   "2024-05-14T10:00:00.000Z"};
    auto read = sync::enroll_response_from_json(sync::to_json(answer));
    REQUIRE(read);
    CHECK(read->regions == answer.regions);
    CHECK(read->server_time == answer.server_time);
    json no_epoch = sync::to_json(answer);
    no_epoch.erase("epoch");
    auto refused = sync::enroll_response_from_json(no_epoch);
    REQUIRE(!refused);
    CHECK(refused.error().message == "malformed body: \"epoch\" must be a string");
}

TEST_CASE("protocol: rotate, status and verify bodies round-trip", "[protocol]") {
    sync::RotateRequest rotate{"old", "new"};
    auto r = sync::rotate_request_from_json(sync::to_json(rotate));
    REQUIRE(r);
    CHECK(r->new_device_id == "new");
    CHECK(sync::rotate_request_from_json(json{{"device_id", "old"}}).error().message ==
          "\"device_id\" and \"new_device_id\" must be strings");
    sync::RotateResponse rotated{"new", "old", std::string(64, 'b'), "coordinator", {}, "e", "t"};
    auto rr = sync::rotate_response_from_json(sync::to_json(rotated));
    REQUIRE(rr);
    CHECK(rr->predecessor == "old");

    sync::StatusResponse status{"e", 1, "t", {"d", "lawyer", {"A", "B"}}, 12, 40};
    auto s = sync::status_response_from_json(sync::to_json(status));
    REQUIRE(s);
    CHECK(s->acked_seq == 12);
    CHECK(s->head == 40);
    CHECK(s->device.regions == status.device.regions);
    CHECK(!sync::status_response_from_json(json{{"epoch", "e"}}));

    sync::VerifyResponse verify{7, 3, std::string(64, '0')};
    auto v = sync::verify_response_from_json(sync::to_json(verify));
    REQUIRE(v);
    CHECK(v->count == 3);
    CHECK(!sync::verify_response_from_json(json{{"upto", 1}, {"count", 1}}));
}

TEST_CASE("protocol: an error body carries its code's extra keys", "[protocol]") {
    sync::ErrorBody gap;
    gap.code = sync::codes::sequence_gap;
    gap.message = "resend";
    gap.acked_seq = 6;
    json j = sync::to_json(gap);
    REQUIRE(j.dump() == R"({"acked_seq":6,"error":{"code":"sequence_gap","message":"resend"}})");
    auto back = sync::error_body_from_json(j);
    REQUIRE(back);
    CHECK(back->code == sync::codes::sequence_gap);
    CHECK(back->acked_seq == 6);
    CHECK(!back->seq);
    CHECK(!sync::error_body_from_json(json{{"retry_after", 1}}));
}

TEST_CASE("protocol: pull and verify targets are written and read back", "[protocol]") {
    sync::PullQuery q{5, 500, "00000000000000e1", 3};
    std::string t = sync::target(q);
    REQUIRE(t == "/v1/pull?after=5&limit=500&epoch=00000000000000e1&own_upto=3");
    sync::Target split = sync::split_target(t);
    CHECK(split.path == sync::routes::pull);
    auto back = sync::pull_query_from(split.params);
    REQUIRE(back);
    CHECK(back->after == 5);
    CHECK(back->limit == 500);
    CHECK(back->epoch == q.epoch);
    CHECK(back->own_upto == 3);
    CHECK(sync::pull_query_from(sync::split_target("/v1/pull?limit=0").params).error().message ==
          "\"limit\" must be at least 1");
    CHECK(sync::pull_query_from(sync::split_target("/v1/pull?after=-1").params).error().message ==
          "\"after\" must be a non-negative integer");
    CHECK(sync::target(sync::VerifyQuery{9}) == "/v1/verify?upto=9");
    CHECK(sync::verify_query_from(sync::split_target("/v1/verify").params)->upto == std::nullopt);
    CHECK(sync::split_target("/v1/pull?epoch=a%20b").params.find("epoch")->second == "a b");
}

TEST_CASE("protocol: a body decoded beyond its limit is refused as too_large", "[protocol]") {
    std::string text(4096, 'x');
    auto packed = sync::compress(text, sync::Encoding::zstd);
    REQUIRE(packed);
    auto over = sync::decode_body(*packed, sync::Encoding::zstd, 1024);
    REQUIRE(!over);
    CHECK(over.error().code == sync::codes::too_large);
    auto garbled = sync::decode_body("not zstd", sync::Encoding::zstd, 1024);
    REQUIRE(!garbled);
    CHECK(garbled.error().code == sync::codes::malformed);
    auto plain = sync::decompress(*packed, sync::Encoding::zstd, 1024);
    REQUIRE(!plain);
    CHECK(plain.error().message.find("too large") != std::string::npos);
}
