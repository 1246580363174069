// Enrollment and sync from the app against a real caravan-server process on 127.0.0.1: what the
// app recorded reaches another laptop through the server, field by field.
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "../sync/e2e_support.hpp"
#include "caravan/ui/server.hpp"
#include "ui_test_support.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

// Waits for the app's background job to end (bounded: 60 s).
void wait_for_job(TestBrowser& browser) {
    for (int i = 0; i < 600; ++i) {
        auto res = browser.get("/sync/progress");
        REQUIRE(res);
        REQUIRE(res->status == 200);
        if (nlohmann::json::parse(res->body).at("running") == false) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("the app's job did not end within 60 s");
}

// The app on `database` in English, started in-process (required to start).
std::unique_ptr<ui::UiServer> start_app(const std::filesystem::path& database) {
    ui::UiOptions options;
    options.database = database;
    options.lang = client::Lang::en;
    auto started = ui::UiServer::start(options);
    REQUIRE(started);
    return std::move(*started);
}

} // namespace

TEST_CASE("ui sync: the app enrolls with a code, syncs, and another laptop receives its records") {
    TempDir dir;
    Server server(dir.path() / "server");
    const auto started = start_app(dir.path() / "app" / "caravan.db");
    auto& app = *started;
    TestBrowser browser(app.port());
    REQUIRE(browser.open(app.launch_url()));
    REQUIRE(browser.post("/setup", {{"lawyer", "Айгүл"}, {"region", k_region}})->status == 303);

    auto res = browser.get("/sync");
    REQUIRE(res);
    CHECK(res->body.find("not connected to a server yet") != std::string::npos);
    CHECK(res->body.find("action=\"/sync\"") == std::string::npos); // no sync before enrolling

    // A mistyped code is said at once; a code the server does not know, after the attempt.
    res = browser.post("/enroll", {{"server", server.url()}, {"code", "12"}});
    REQUIRE(res);
    CHECK(res->status == 400);
    res = browser.post("/enroll", {{"server", server.url()}, {"code", "AAA-BBB-CCC"}});
    REQUIRE(res);
    CHECK(res->status == 303);
    wait_for_job(browser);
    res = browser.get("/sync");
    REQUIRE(res);
    CHECK(res->body.find("class=\"error\"") != std::string::npos);
    CHECK(res->body.find("not connected to a server yet") != std::string::npos);

    res = browser.post("/enroll", {{"server", server.url()}, {"code", server.code("Айгүл", {k_region})}});
    REQUIRE(res);
    CHECK(res->status == 303);
    wait_for_job(browser);
    res = browser.get("/sync");
    REQUIRE(res);
    // (the page escapes "/" as &#x2F;)
    const std::string port = "127.0.0.1:" + std::to_string(server.port());
    CHECK(res->body.find("Connected: this laptop syncs with http:&#x2F;&#x2F;" + port) != std::string::npos);
    CHECK(res->body.find("Server: http:&#x2F;&#x2F;" + port) != std::string::npos);

    browser.get("/");
    REQUIRE(browser.post("/visit/start", {{"new_village", "Қызылжар"}, {"date", "2024-05-14"}})->status == 303);
    browser.get("/consult/new");
    REQUIRE(browser.post("/consult", {{"gender", "female"}, {"age", "33-45"}, {"category", "youth"},
                                      {"topic", "land"}, {"outcome", "advice"},
                                      {"question", "Жер телімі"}, {"advice", "Кеңес"}})
                ->status == 303);
    res = browser.get("/sync");
    REQUIRE(res);
    CHECK(res->body.find("Not yet on the server") != std::string::npos);

    res = browser.post("/sync", {});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    wait_for_job(browser);
    res = browser.get("/sync");
    REQUIRE(res);
    CHECK(res->body.find("Everything recorded here is on the server.") != std::string::npos);
    CHECK(res->body.find("completed — sent") != std::string::npos);

    // A coordinator's laptop pulls it.
    Laptop other(dir.path() / "other.db");
    other.setup(server, "Coordinator", "coordinator");
    other.must({"sync"});
    const auto listed = other.must_json({"consult", "list"});
    REQUIRE(listed.size() == 1);
    CHECK(listed[0]["question"] == "Жер телімі");
    CHECK(listed[0]["village"] == "Қызылжар");
    CHECK(listed[0]["lawyer"] == "Айгүл");
}

TEST_CASE("ui conflicts: both values with the lawyers' names, and keeping the other one reaches every laptop") {
    TempDir dir;
    Server server(dir.path() / "server");
    Laptop mine(dir.path() / "mine.db");
    mine.setup(server, "Айгүл");
    mine.start_field_day();
    const auto added = mine.must_json({"consult", "add", "--gender", "female", "--age", "33-45",
                                       "--category", "youth", "--topic", "land", "--outcome",
                                       "advice", "--question", "Жер", "--advice", "Кеңес"});
    const std::string id = added["id"];
    mine.must_sync();
    Laptop theirs(dir.path() / "theirs.db");
    theirs.setup(server, "Нұрлан", "coordinator");
    theirs.must_sync();
    // Each changes the outcome without seeing the other's change.
    theirs.must({"consult", "edit", id, "--outcome", "case"});
    theirs.must_sync();
    mine.must({"consult", "edit", id, "--outcome", "referred"});
    mine.must_sync();
    theirs.must_sync();

    const auto app = start_app(mine.db());
    TestBrowser browser(app->port());
    REQUIRE(browser.open(app->launch_url()));
    auto res = browser.get("/conflicts");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->body.find("outcome") != std::string::npos);
    CHECK(res->body.find("Айгүл") != std::string::npos);
    CHECK(res->body.find("Нұрлан") != std::string::npos);
    CHECK(res->body.find("case taken on") != std::string::npos);
    CHECK(res->body.find("referred to a body") != std::string::npos);
    CHECK(res->body.find("@") == std::string::npos); // no version strings shown
    // Which value was kept depends on the clocks: keep the other one.
    const bool referred_kept = res->body.find("<strong>referred to a body</strong>") != std::string::npos;
    const std::string other = referred_kept ? "case" : "referred";
    res = browser.post("/conflicts/keep", {{"id", id}, {"field", "outcome"},
                                           {"value", "\"" + other + "\""}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    res = browser.get("/conflicts?kept=1");
    REQUIRE(res);
    CHECK(res->body.find("Saved: that value is now the record") != std::string::npos);
    mine.must_sync();
    theirs.must_sync();
    CHECK(theirs.must_json({"consult", "show", id})["outcome"] == other);
    CHECK(mine.must_json({"consult", "show", id})["outcome"] == other);
    // The choice was made having seen both values: the conflict is settled on both laptops.
    CHECK(theirs.must_json({"conflicts"}).empty());
    CHECK(mine.must_json({"conflicts"}).empty());
    res = browser.get("/conflicts");
    REQUIRE(res);
    CHECK(res->body.find("case taken on") == std::string::npos);
}

TEST_CASE("ui sync: Ctrl+C during a sync that is retrying ends the app at once, losing nothing") {
    TempDir dir;
    Server server(dir.path() / "server");
    Laptop mine(dir.path() / "mine.db");
    mine.setup(server, "Айгүл");
    mine.start_field_day();
    mine.must({"consult", "add", "--gender", "female", "--age", "33-45", "--category", "youth",
               "--topic", "land", "--outcome", "advice", "--question", "Жер"});
    server.kill9(); // the link is down: the sync retries with backoff for minutes
    const auto out = dir.path() / "ui.out";
    BackgroundProcess ui({binary("caravan").string(), "--db", mine.db().string(), "ui",
                          "--no-browser"},
                         {}, out, dir.path() / "ui.err");
    std::string url;
    for (int i = 0; i < 200 && url.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const std::string text = read_file(out);
        if (const auto at = text.find("http://127.0.0.1:"); at != std::string::npos) {
            if (const auto end = text.find_first_of(" \n", at); end != std::string::npos) {
                url = text.substr(at, end - at);
            }
        }
    }
    REQUIRE_FALSE(url.empty());
    TestBrowser browser(std::stoi(url.substr(17, url.find('/', 17) - 17)));
    REQUIRE(browser.open(url));
    browser.get("/sync");
    REQUIRE(browser.post("/sync", {})->status == 303);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    REQUIRE(nlohmann::json::parse(browser.get("/sync/progress")->body).at("running") == true);
    const auto started = std::chrono::steady_clock::now();
    ui.kill_now(SIGTERM);
    const auto status = ui.wait(std::chrono::seconds(10));
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(5));
    CHECK(read_file(out).find("nothing is lost") != std::string::npos);
    // The record is still there and still unsynced; the next sync sends it.
    server.start(); // on a new port
    mine.use_server_url(server.url());
    mine.must_sync();
    CHECK(mine.must_json({"status"})["unsynced"] == 0);
}

TEST_CASE("ui: a lawyer's laptop offers only the villages of the lawyer's regions") {
    TempDir dir;
    Server server(dir.path() / "server");
    Laptop mine(dir.path() / "mine.db");
    mine.must({"init", "--lawyer", "Айгүл", "--region", k_region});
    // Recorded before enrolling, when any region was allowed.
    mine.must({"village", "add", "Ойыл", "--region", "Ақтөбе обл."});
    mine.must({"village", "add", "Қызылжар", "--region", k_region});
    mine.must({"enroll", "--server", server.url(), "--code", server.code("Айгүл", {k_region})});
    const auto app = start_app(mine.db());
    TestBrowser browser(app->port());
    REQUIRE(browser.open(app->launch_url()));
    auto res = browser.get("/");
    REQUIRE(res);
    CHECK(res->body.find("Қызылжар") != std::string::npos);
    CHECK(res->body.find("Ойыл") == std::string::npos);
    // A new village goes into the lawyer's region.
    REQUIRE(browser.post("/visit/start", {{"new_village", "Жаңа ауыл"}})->status == 303);
    const auto villages = mine.must_json({"village", "list"});
    bool found = false;
    for (const auto& v : villages) {
        if (v["name"] == "Жаңа ауыл") {
            found = true;
            CHECK(v["region"] == k_region);
        }
    }
    CHECK(found);
}
