// The devices page and its actions through the real server, and every security check refused
// with nothing written.

#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;
namespace server = caravan::test::server;

namespace {

std::int64_t revoked(DashboardServer& s) {
    return s.count("SELECT count(*) FROM enrolled_devices WHERE revoked_at IS NOT NULL");
}
std::int64_t codes(DashboardServer& s) {
    return s.count("SELECT count(*) FROM enrollment_codes");
}

} // namespace

TEST_CASE("dashboard: the devices page shows each device's last sync, its age, backlog and "
          "version, highlighted past the threshold",
          "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    const server::Device device = server.api().enroll({k_region_a});
    // The device reports its queue on a pull.
    server::Http http(server.port());
    REQUIRE(http.get("/v1/pull?after=0&limit=10", device.token,
                     {{"X-Caravan-Queue-Depth", "7"},
                      {"X-Caravan-App-Version", "caravan-0.9.1"},
                      {"X-Caravan-Oldest-Unsynced", "2024-05-13T08:00:00Z"}})
                .status == 200);
    Browser browser(server.port());
    REQUIRE(browser.login("aigerim").status == 303);
    Page page = browser.get("/devices");
    REQUIRE(page.status == 200);
    CHECK(page.body.find(k_region_a) != std::string::npos);
    CHECK(page.body.find("caravan-0.9.1") != std::string::npos);
    CHECK(page.body.find(">7 ") != std::string::npos); // the queue depth it reported
    CHECK(page.body.find("Test Lawyer") != std::string::npos);
    CHECK(page.body.find("class=\"stale\"") == std::string::npos);

    server.advance_ms(49LL * 3600 * 1000); // past the default 48 h
    REQUIRE(browser.login("aigerim").status == 303);
    page = browser.get("/devices");
    CHECK(page.body.find("class=\"stale\"") != std::string::npos);
    // The coordinator raises the threshold; the row is no longer highlighted.
    CHECK(browser.post("/devices/threshold", {{"csrf", page.csrf()}, {"hours", "72"}}).status ==
          303);
    page = browser.get("/devices");
    CHECK(page.body.find("class=\"stale\"") == std::string::npos);
    CHECK(server.audit_count("threshold_set") == 1);
    // A bad threshold is refused with the reason, and changes nothing.
    CHECK(browser.post("/devices/threshold", {{"csrf", page.csrf()}, {"hours", "-3"}}).status ==
          400);
}

TEST_CASE("dashboard: a coordinator issues an enrollment code and revokes a device, both "
          "audited",
          "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    const server::Device device = server.api().enroll({k_region_a});
    Browser browser(server.port());
    REQUIRE(browser.login("aigerim").status == 303);
    Page page = browser.get("/devices");
    const auto codes_before = codes(server);
    Page issued = browser.post(
        "/devices/code",
        {{"csrf", page.csrf()}, {"lawyer", "Дана Сейтова"}, {"region", k_region_b}, {"ttl", "24"}});
    REQUIRE(issued.status == 200);
    CHECK(issued.body.find("id=\"enrollment-code\"") != std::string::npos);
    CHECK(codes(server) == codes_before + 1);
    CHECK(server.audit_count("code_issued") == 1);
    // The audit entry names no person.
    CHECK(server.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%Дана%'") == 0);

    const Page confirm = browser.get("/devices/revoke?device=" + device.id);
    REQUIRE(confirm.status == 200);
    CHECK(revoked(server) == 0); // asking is not doing
    const Page done =
        browser.post("/devices/revoke", {{"csrf", confirm.csrf()}, {"device", device.id}});
    CHECK(done.status == 303);
    CHECK(revoked(server) == 1);
    CHECK(server.audit_count("device_revoked") == 1);
    server::Http http(server.port());
    CHECK(http.get("/v1/status", device.token).code() == "device_revoked"); // cut off
}

TEST_CASE("dashboard: an account with regions sees and acts on its regions only", "[dashboard]") {
    DashboardServer server;
    server.add_account("north", AccountRole::coordinator, {k_region_a});
    const server::Device mine = server.api().enroll({k_region_a});
    const server::Device other = server.api().enroll({k_region_b});
    Browser browser(server.port());
    REQUIRE(browser.login("north").status == 303);
    const Page page = browser.get("/devices");
    CHECK(page.body.find(caravan::client::short_id(mine.id)) != std::string::npos);
    CHECK(page.body.find(caravan::client::short_id(other.id)) == std::string::npos);
    CHECK(browser.post("/devices/revoke", {{"csrf", page.csrf()}, {"device", other.id}}).status ==
          404);
    CHECK(browser
              .post("/devices/code",
                    {{"csrf", page.csrf()}, {"lawyer", "L"}, {"region", k_region_b}, {"ttl", "24"}})
              .status == 400);
    CHECK(revoked(server) == 0);
    CHECK(codes(server) == 2); // the two enrollments' own
}

TEST_CASE("dashboard: every security check refuses with nothing written", "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    server.add_account("viewer", AccountRole::viewer);
    const server::Device device = server.api().enroll({k_region_a});
    const server::Device coordinator_device =
        server.api().enroll({k_region_a}, caravan::sync::server::Role::coordinator);
    const auto codes_before = codes(server);
    const auto sessions = [&] { return server.count("SELECT count(*) FROM account_sessions"); };
    const httplib::Params revoke_form{{"device", device.id}};

    SECTION("no session") {
        Browser browser(server.port());
        const Page page = browser.get("/devices");
        CHECK(page.status == 303);
        CHECK(page.body.find("Test Lawyer") == std::string::npos);
        CHECK(browser.post("/devices/revoke", {{"csrf", "x"}, {"device", device.id}}).status ==
              403);
    }
    SECTION("a lawyer's (or a coordinator device's) bearer token") {
        for (const auto* token : {&device.token, &coordinator_device.token}) {
            Browser browser(server.port());
            const Page page = browser.get("/devices", {{"Authorization", "Bearer " + *token}});
            CHECK(page.status == 303);
            CHECK(page.body.find("Test Lawyer") == std::string::npos);
            CHECK(browser
                      .post("/devices/revoke", revoke_form, "same",
                            {{"Authorization", "Bearer " + *token}})
                      .status == 403);
        }
    }
    SECTION("a forged session cookie") {
        Browser browser(server.port());
        browser.set_cookie("caravan_dash", std::string(64, 'a'));
        CHECK(browser.get("/devices").status == 303);
        CHECK(
            browser.post("/devices/revoke", {{"csrf", std::string(64, 'a')}, {"device", device.id}})
                .status == 403);
    }
    SECTION("a cross-site POST with a valid session and token") {
        Browser browser(server.port());
        REQUIRE(browser.login("aigerim").status == 303);
        const std::string csrf = browser.get("/devices").csrf();
        CHECK(browser
                  .post("/devices/revoke", {{"csrf", csrf}, {"device", device.id}},
                        "http://attacker.example")
                  .status == 403);
        CHECK(browser
                  .post("/devices/revoke", {{"csrf", csrf}, {"device", device.id}}, "",
                        {{"Sec-Fetch-Site", "cross-site"}})
                  .status == 403);
        CHECK(browser.post("/logout", {{"csrf", csrf}}, "http://attacker.example").status == 403);
        CHECK(sessions() == 1);
    }
    SECTION("a POST without the CSRF token, or with another session's") {
        Browser browser(server.port());
        REQUIRE(browser.login("aigerim").status == 303);
        Browser other(server.port());
        REQUIRE(other.login("aigerim").status == 303);
        const std::string other_csrf = other.get("/devices").csrf();
        CHECK(browser.post("/devices/revoke", revoke_form).status == 403);
        CHECK(
            browser.post("/devices/revoke", {{"csrf", other_csrf}, {"device", device.id}}).status ==
            403);
        CHECK(browser.post("/devices/code", {{"lawyer", "L"}, {"region", k_region_a}, {"ttl", "1"}})
                  .status == 403);
    }
    SECTION("a login form posted from another site, or without its token") {
        Browser browser(server.port());
        const std::string csrf = browser.get("/login").csrf();
        CHECK(browser
                  .post("/login", {{"csrf", csrf}, {"name", "aigerim"}, {"password", k_password}},
                        "http://attacker.example")
                  .status == 403);
        CHECK(browser.post("/login", {{"name", "aigerim"}, {"password", k_password}}).status ==
              403);
        CHECK(sessions() == 0);
    }
    SECTION("a viewer changes nothing") {
        Browser browser(server.port());
        REQUIRE(browser.login("viewer").status == 303);
        const Page page = browser.get("/devices");
        CHECK(page.body.find("id=\"code-form\"") == std::string::npos);
        CHECK(browser.post("/devices/revoke", {{"csrf", page.csrf()}, {"device", device.id}})
                  .status == 403);
        CHECK(
            browser
                .post(
                    "/devices/code",
                    {{"csrf", page.csrf()}, {"lawyer", "L"}, {"region", k_region_a}, {"ttl", "1"}})
                .status == 403);
        CHECK(browser.get("/devices/revoke?device=" + device.id).status == 403);
    }
    CHECK(revoked(server) == 0);
    CHECK(codes(server) == codes_before);
    // The API is untouched by the dashboard: its errors stay JSON.
    server::Http http(server.port());
    CHECK(http.get("/v1/nothing-here").code() == "not_found");
}
