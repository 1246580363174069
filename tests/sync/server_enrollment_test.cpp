#include "server_test_support.hpp"

#include <regex>

using namespace caravan;
using namespace caravan::test::server;

TEST_CASE("server enrollment: a code enrolls one device once, then it is used up", "[server]") {
    TestServer server;
    Http http(server.port());
    std::string code = server.code({k_region_a});
    CHECK(std::regex_match(code, std::regex("[2-9A-HJKMNP-Z]{3}-[2-9A-HJKMNP-Z]{3}-"
                                            "[2-9A-HJKMNP-Z]{3}")));
    std::string device = new_id();

    Reply first = enroll_with(http, code, device);
    REQUIRE(first.status == 200);
    CHECK(first.body["device_id"] == device);
    CHECK(first.body["role"] == "lawyer");
    CHECK(first.body["regions"] == json::array({k_region_a}));
    CHECK(first.body["token"].get<std::string>().size() == 64);
    CHECK(first.body["epoch"].get<std::string>().size() == 16);
    CHECK(first.body.contains("server_time"));

    // The token works.
    Reply status = http.get("/v1/status", first.body["token"]);
    REQUIRE(status.status == 200);
    CHECK(status.body["device"]["device_id"] == device);
    CHECK(status.body["acked_seq"] == 0);
    CHECK(status.body["protocol"] == 1);

    // Single use: the same code again, even for another device, is refused.
    Reply again = enroll_with(http, code, new_id());
    CHECK(again.status == 403);
    CHECK(again.code() == "invalid_code");
    CHECK(server.count("SELECT count(*) FROM enrolled_devices") == 1);
}

TEST_CASE("server enrollment: codes are accepted in any case, with or without dashes", "[server]") {
    TestServer server;
    Http http(server.port());
    std::string code = server.code({k_region_a});
    std::string typed;
    for (char c : code) {
        if (c != '-') {
            typed += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    CHECK(enroll_with(http, typed, new_id()).status == 200);
}

TEST_CASE("server enrollment: an expired code is refused", "[server]") {
    TestServer server;
    Http http(server.port());
    // Issued 73 hours ago with the default 72-hour lifetime.
    auto issued = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() -
                  73LL * 3600 * 1000;
    std::string code = server.code({k_region_a}, srv::Role::lawyer, 72, issued);
    Reply r = enroll_with(http, code, new_id());
    CHECK(r.status == 403);
    CHECK(r.code() == "invalid_code");
    CHECK(server.count("SELECT count(*) FROM enrolled_devices") == 0);
}

TEST_CASE("server enrollment: repeated wrong codes from one address get 429 slow_down",
          "[server]") {
    srv::ServerOptions options;
    options.enroll_max_failures = 3;
    TestServer server(options);
    Http http(server.port());
    std::string good = server.code({k_region_a});
    for (int i = 0; i < 3; ++i) {
        Reply r = enroll_with(http, "ZZZ-ZZZ-ZZ" + std::to_string(2 + i), new_id());
        CHECK(r.status == 403);
        CHECK(r.code() == "invalid_code");
    }
    // Now even a valid code waits: a guesser learns nothing more.
    Reply limited = enroll_with(http, good, new_id());
    CHECK(limited.status == 429);
    CHECK(limited.code() == "slow_down");
    CHECK(limited.body["retry_after"].get<std::int64_t>() > 0);
    CHECK(std::stoll(limited.header("Retry-After")) > 0);
    CHECK(server.count("SELECT count(*) FROM enrolled_devices") == 0);
    // The code itself was not consumed.
    CHECK(server.count("SELECT count(*) FROM enrollment_codes WHERE used_at IS NULL") == 1);
}

TEST_CASE("server enrollment: a malformed request is 400 and is not counted as a guess",
          "[server]") {
    srv::ServerOptions options;
    options.enroll_max_failures = 1;
    TestServer server(options);
    Http http(server.port());
    CHECK(http.post("/v1/enroll", "", "{not json").status == 400);
    CHECK(http.post("/v1/enroll", "", json{{"code", 5}}.dump()).status == 400);
    CHECK(enroll_with(http, server.code({k_region_a}), "NOT-A-UUID").status == 400);
    CHECK(enroll_with(http, server.code({k_region_a}), new_id()).status == 200);
}

// Re-enrolling a device id that is already enrolled is refused since issue 10 (device identity
// takeover): tests/sync/server_takeover_test.cpp.

TEST_CASE("server enrollment: a protocol version the server does not speak gets 426", "[server]") {
    TestServer server;
    httplib::Client client("127.0.0.1", server.port());
    auto r = client.Get("/v1/health", {{"X-Caravan-Protocol", "2"}});
    REQUIRE(r);
    CHECK(r->status == 200); // health is for operators: no protocol check
    auto e = client.Post("/v1/enroll", {{"X-Caravan-Protocol", "2"}}, "{}", "application/json");
    REQUIRE(e);
    CHECK(e->status == 426);
    CHECK(json::parse(e->body)["error"]["code"] == "upgrade_required");
}
