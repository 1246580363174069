// The dashboard's accounts and sessions through the real server: login, wrong password,
// lockout, expiry, logout, and the catalog of its words.

#include "caravan/dashboard/messages.hpp"
#include "dashboard_support.hpp"
#include "message_catalog_check.hpp"

using namespace caravan::test::dashboard;

TEST_CASE("dashboard: a coordinator logs in, sees the devices page, and logs out", "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    Browser browser(server.port());

    const Page first = browser.get("/devices");
    CHECK(first.status == 303);
    CHECK(first.location() == "/login");

    const Page login_form = browser.get("/login");
    REQUIRE(login_form.status == 200);
    CHECK(login_form.csrf().size() == 64);
    CHECK(login_form.headers.find("Content-Security-Policy") != login_form.headers.end());
    CHECK(login_form.headers.find("Access-Control-Allow-Origin") == login_form.headers.end());

    const Page in = browser.login("aigerim");
    REQUIRE(in.status == 303);
    CHECK(in.location() == "/devices");
    bool secure_cookie = false;
    for (const auto& c : in.set_cookies()) {
        if (c.starts_with("caravan_dash=")) {
            CHECK(c.find("HttpOnly") != std::string::npos);
            CHECK(c.find("SameSite=Strict") != std::string::npos);
            secure_cookie = c.find("Secure") != std::string::npos;
        }
    }
    CHECK_FALSE(secure_cookie); // plain HTTP on loopback: no Secure flag
    CHECK(browser.cookie("caravan_dash").size() == 64);
    // Stored only as a hash.
    CHECK(server.count("SELECT count(*) FROM account_sessions WHERE id_hash = '" +
                       browser.cookie("caravan_dash") + "'") == 0);
    CHECK(server.count("SELECT count(*) FROM account_sessions") == 1);

    const Page devices = browser.get("/devices");
    REQUIRE(devices.status == 200);
    CHECK(devices.body.find("aigerim") != std::string::npos);
    const std::string csrf = devices.csrf();
    REQUIRE(csrf.size() == 64);

    const Page out = browser.post("/logout", {{"csrf", csrf}});
    CHECK(out.status == 303);
    CHECK(out.location() == "/login?bye=1");
    CHECK(server.count("SELECT count(*) FROM account_sessions") == 0);
    CHECK(browser.get("/devices").status == 303);
    CHECK(server.audit_count("login") == 1);
    CHECK(server.audit_count("logout") == 1);
}

TEST_CASE("dashboard: a wrong password opens no session and says so", "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    Browser browser(server.port());
    const Page wrong = browser.login("aigerim", "not the password");
    CHECK(wrong.status == 401);
    CHECK(browser.cookie("caravan_dash").empty());
    CHECK(server.count("SELECT count(*) FROM account_sessions") == 0);
    CHECK(server.audit_count("login_failed") == 1);
    const Page unknown = browser.login("nobody", k_password);
    CHECK(unknown.status == 401);
    // The name typed for an unknown account is not kept (it may be a mistyped password).
    CHECK(server.count("SELECT count(*) FROM audit_log WHERE account = 'nobody'") == 0);
    // No password in any table or log line.
    CHECK(server.count("SELECT count(*) FROM accounts WHERE password_hash LIKE '%horse%'") == 0);
    for (const auto& line : server.api().log_lines()) {
        CHECK(line.find("not the password") == std::string::npos);
        CHECK(line.find("horse") == std::string::npos);
    }
}

TEST_CASE("dashboard: after five wrong passwords the account is locked for the window, even "
          "with the right one",
          "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    Browser browser(server.port());
    for (int i = 0; i < 5; ++i) {
        CHECK(browser.login("aigerim", "wrong password " + std::to_string(i)).status == 401);
    }
    const Page locked = browser.login("aigerim");
    CHECK(locked.status == 429);
    CHECK(locked.body.find("15") != std::string::npos); // minutes to wait
    CHECK(browser.cookie("caravan_dash").empty());
    CHECK(server.audit_count("login_locked") == 1);
    // Another account from the same address is not locked by these.
    server.add_account("bota", AccountRole::viewer);
    CHECK(browser.login("bota").status == 303);
}

TEST_CASE("dashboard: a session ends after 30 idle minutes and after 12 hours in all",
          "[dashboard]") {
    DashboardServer server;
    server.add_account("aigerim", AccountRole::coordinator);
    Browser browser(server.port());
    REQUIRE(browser.login("aigerim").status == 303);
    server.advance_ms(29 * 60 * 1000);
    CHECK(browser.get("/devices").status == 200); // still within the idle limit: renewed
    server.advance_ms(29 * 60 * 1000);
    CHECK(browser.get("/devices").status == 200);
    server.advance_ms(31 * 60 * 1000);
    const Page idle = browser.get("/devices");
    CHECK(idle.status == 303);
    CHECK(idle.location() == "/login?ended=1");

    REQUIRE(browser.login("aigerim").status == 303);
    for (int i = 0; i < 26; ++i) { // 26 x 29 min > 12 h, never idle for 30
        server.advance_ms(29 * 60 * 1000);
        const Page page = browser.get("/devices");
        if (page.status != 200) {
            CHECK(i == 24); // 25 x 29 min = 725 min > 12 h
            CHECK(page.location() == "/login?ended=1");
            return;
        }
    }
    FAIL("the session outlived its absolute limit");
}

TEST_CASE("dashboard: its catalog has every word in kk, ru and en", "[dashboard]") {
    std::set<std::string> ids;
    caravan::test::check_catalog(caravan::dashboard::msg::catalog(), ids);
    CHECK(ids.size() == caravan::dashboard::msg::catalog().size());
}
