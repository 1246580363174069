// Who may reach the lawyer's app: each rule of caravan/ui/guard.hpp on its own, then through
// the real server on a loopback port, with nothing written when a request is refused.
#include <filesystem>

#include <catch2/catch.hpp>

#include "caravan/ui/guard.hpp"
#include "caravan/ui/server.hpp"
#include "temp_dir.hpp"
#include "ui_test_support.hpp"

using namespace caravan;

TEST_CASE("ui guard: only loopback names at our port pass the Host check") {
    CHECK(ui::host_allowed("127.0.0.1:8765", 8765));
    CHECK(ui::host_allowed("localhost:8765", 8765));
    CHECK(ui::host_allowed("LOCALHOST:8765", 8765));
    CHECK(ui::host_allowed("[::1]:8765", 8765));
    CHECK_FALSE(ui::host_allowed("127.0.0.1:8766", 8765));
    CHECK_FALSE(ui::host_allowed("127.0.0.1", 8765));
    CHECK_FALSE(ui::host_allowed("attacker.example:8765", 8765));
    CHECK_FALSE(ui::host_allowed("localhost.attacker.example:8765", 8765));
    CHECK_FALSE(ui::host_allowed("127.0.0.1.nip.io:8765", 8765));
    CHECK_FALSE(ui::host_allowed("", 8765));
}

TEST_CASE("ui guard: only this app's origin passes the Origin check") {
    CHECK(ui::origin_allowed("http://127.0.0.1:8765", 8765));
    CHECK(ui::origin_allowed("http://localhost:8765", 8765));
    CHECK_FALSE(ui::origin_allowed("null", 8765));
    CHECK_FALSE(ui::origin_allowed("https://127.0.0.1:8765", 8765));
    CHECK_FALSE(ui::origin_allowed("http://attacker.example:8765", 8765));
    CHECK_FALSE(ui::origin_allowed("http://127.0.0.1:9999", 8765));
}

TEST_CASE("ui guard: cookies are read by exact name") {
    CHECK(ui::cookie_value("a=1; caravan_ui=abc; b=2", "caravan_ui") == std::optional<std::string>("abc"));
    CHECK(ui::cookie_value("xcaravan_ui=abc", "caravan_ui") == std::nullopt);
    CHECK(ui::cookie_value("", "caravan_ui") == std::nullopt);
}

TEST_CASE("ui guard: only the launch secret opens a session, and sessions are bounded") {
    ui::Sessions sessions("s3cret", 2);
    CHECK_FALSE(sessions.open("wrong"));
    CHECK_FALSE(sessions.open(""));
    auto a = sessions.open("s3cret");
    REQUIRE(a);
    CHECK(a->id != a->csrf);
    CHECK(sessions.find(a->id));
    CHECK_FALSE(sessions.find(a->csrf));
    auto b = sessions.open("s3cret");
    auto c = sessions.open("s3cret");
    REQUIRE(b);
    REQUIRE(c);
    CHECK_FALSE(sessions.find(a->id)); // the oldest is forgotten past the bound
    CHECK(sessions.find(c->id));
}

namespace {

struct App {
    test::TempDir dir;
    std::filesystem::path db = dir.path() / "laptop" / "caravan.db";
    std::unique_ptr<ui::UiServer> server;

    App() {
        ui::UiOptions options;
        options.database = db;
        options.lang = client::Lang::en;
        options.busy_retry_ms = 1000;
        auto started = ui::UiServer::start(options);
        REQUIRE(started);
        server = std::move(*started);
    }
};

} // namespace

TEST_CASE("ui guard: without the launch secret nothing answers and nothing is written") {
    App app;
    httplib::Client http("127.0.0.1", app.server->port());
    auto res = http.Get("/");
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK(res->body.find("caravan ui") != std::string::npos);
    CHECK(res->get_header_value("Set-Cookie").empty());
    res = http.Get("/?k=0000");
    REQUIRE(res);
    CHECK(res->status == 403);
    res = http.Post("/setup", httplib::Params{{"lawyer", "A"}, {"region", "R"}});
    REQUIRE(res);
    CHECK(res->status == 403);
    res = http.Get("/static/app.js");
    REQUIRE(res);
    CHECK(res->status == 403);
    // A guessed session cookie opens nothing either.
    res = http.Get("/", httplib::Headers{{"Cookie", "caravan_ui=" + std::string(64, 'a')}});
    REQUIRE(res);
    CHECK(res->status == 403);
    CHECK_FALSE(std::filesystem::exists(app.db));
}

TEST_CASE("ui guard: a Host that is not this computer's loopback is refused (DNS rebinding)") {
    App app;
    test::TestBrowser browser(app.server->port());
    REQUIRE(browser.open(app.server->launch_url()));
    const std::string port = std::to_string(app.server->port());
    auto res = browser.get("/", {{"Host", "attacker.example:" + port}});
    REQUIRE(res);
    CHECK(res->status == 421);
    // Even the launch link is refused under a foreign name.
    httplib::Client http("127.0.0.1", app.server->port());
    res = http.Get(app.server->launch_url().substr(app.server->launch_url().find("/?")).c_str(),
                   httplib::Headers{{"Host", "attacker.example:" + port}});
    REQUIRE(res);
    CHECK(res->status == 421);
    CHECK(res->get_header_value("Set-Cookie").empty());
    res = browser.post("/setup", {{"lawyer", "A"}, {"region", "R"}},
                       {{"Host", "attacker.example:" + port}});
    REQUIRE(res);
    CHECK(res->status == 421);
    CHECK_FALSE(std::filesystem::exists(app.db));
    res = browser.get("/", {{"Host", "localhost:" + port}});
    REQUIRE(res);
    CHECK(res->status == 200);
}

TEST_CASE("ui guard: a state change needs the page's CSRF token and the app's own origin") {
    App app;
    test::TestBrowser browser(app.server->port());
    REQUIRE(browser.open(app.server->launch_url()));
    REQUIRE(browser.csrf().size() == 64);
    const httplib::Params fields{{"lawyer", "Aigul"}, {"region", "Zhambyl"}};
    SECTION("no token") {
        auto res = browser.post("/setup", fields, {}, false);
        REQUIRE(res);
        CHECK(res->status == 403);
    }
    SECTION("a wrong token") {
        httplib::Params wrong = fields;
        wrong.emplace("csrf", std::string(64, '0'));
        auto res = browser.post("/setup", wrong, {}, false);
        REQUIRE(res);
        CHECK(res->status == 403);
    }
    SECTION("the right token from another site's page") {
        auto res = browser.post("/setup", fields, {{"Origin", "http://attacker.example"}});
        REQUIRE(res);
        CHECK(res->status == 403);
        res = browser.post("/setup", fields, {{"Origin", "null"}});
        REQUIRE(res);
        CHECK(res->status == 403);
        res = browser.post("/setup", fields, {{"Sec-Fetch-Site", "cross-site"}});
        REQUIRE(res);
        CHECK(res->status == 403);
    }
    CHECK_FALSE(std::filesystem::exists(app.db));
    auto res = browser.post("/setup", fields);
    REQUIRE(res);
    CHECK(res->status == 303);
    CHECK(std::filesystem::exists(app.db));
}

TEST_CASE("ui guard: every answer carries a strict policy and never a CORS header") {
    App app;
    test::TestBrowser browser(app.server->port());
    REQUIRE(browser.open(app.server->launch_url()));
    for (const char* path : {"/", "/static/app.css", "/nowhere"}) {
        auto res = browser.get(path, {{"Origin", "http://attacker.example"}});
        REQUIRE(res);
        INFO(path);
        CHECK(res->get_header_value("Content-Security-Policy").find("default-src 'none'") == 0);
        CHECK(res->get_header_value("X-Frame-Options") == "DENY");
        CHECK_FALSE(res->has_header("Access-Control-Allow-Origin"));
    }
    httplib::Client http("127.0.0.1", app.server->port());
    auto res = http.Options("/setup", httplib::Headers{{"Origin", "http://attacker.example"},
                                                      {"Access-Control-Request-Method", "POST"},
                                                      {"Cookie", browser.cookie()}});
    REQUIRE(res);
    CHECK(res->status == 405);
    CHECK_FALSE(res->has_header("Access-Control-Allow-Origin"));
    // The session cookie is out of scripts' and other sites' reach.
    httplib::Client fresh("127.0.0.1", app.server->port());
    const std::string launch = app.server->launch_url();
    res = fresh.Get(launch.substr(launch.find("/?")).c_str());
    REQUIRE(res);
    const std::string cookie = res->get_header_value("Set-Cookie");
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);
}

TEST_CASE("ui: a port outside 0..65535 is refused") {
    ui::UiOptions options;
    options.port = 70000;
    auto started = ui::UiServer::start(options);
    REQUIRE_FALSE(started);
    CHECK(started.error().code == ErrorCode::invalid_input);
    CHECK(started.error().message.find("70000") != std::string::npos);
}
