// The lawyer's app's forms through the real server: what it says is saved is in the database
// (read back by a separate engine, as the CLI would), a bad field comes back next to the field
// with everything typed kept, and a busy database is waited for, then said.
#include <filesystem>
#include <map>
#include <thread>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "caravan/client/engine.hpp"
#include "caravan/ui/server.hpp"
#include "../client/jpeg_exif.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "ui_test_support.hpp"

using namespace caravan;

namespace {

struct App {
    test::TempDir dir;
    std::filesystem::path db = dir.path() / "caravan.db";
    std::unique_ptr<ui::UiServer> server;
    std::unique_ptr<test::TestBrowser> browser;

    explicit App(int busy_retry_ms = 1000) {
        ui::UiOptions options;
        options.database = db;
        options.lang = client::Lang::en;
        options.busy_retry_ms = busy_retry_ms;
        auto started = ui::UiServer::start(options);
        REQUIRE(started);
        server = std::move(*started);
        browser = std::make_unique<test::TestBrowser>(server->port());
        REQUIRE(browser->open(server->launch_url()));
    }

    void set_up_with_visit() {
        auto res = browser->post("/setup", {{"lawyer", "Айгүл Сейітова"}, {"region", "Жамбыл обл."}});
        REQUIRE(res);
        REQUIRE(res->status == 303);
        res = browser->get("/");
        res = browser->post("/visit/start", {{"new_village", "Қордай"}, {"date", "2026-12-01"}});
        REQUIRE(res);
        REQUIRE(res->status == 303);
        res = browser->get("/consult/new");
        REQUIRE(res);
        REQUIRE(res->body.find("Қордай, 2026-12-01") != std::string::npos);
    }

    // The database as the CLI sees it: its own engine on the file.
    std::vector<client::Consultation> consultations() const {
        client::EngineOptions options;
        options.create = false;
        auto engine = client::Engine::open(db, options);
        REQUIRE(engine);
        std::vector<client::Consultation> out;
        REQUIRE(engine->list_consultations({}, [&](const client::Consultation& c) {
            out.push_back(c);
            return true;
        }));
        return out;
    }
};

httplib::Params consultation(std::string question) {
    return {{"gender", "female"}, {"age", "33-45"},      {"category", "unemployed"},
            {"vulnerable", "yes"}, {"topic", "land"},     {"topic", "inheritance"},
            {"outcome", "case"},  {"follow_up", "1"},    {"clang", "kk"},
            {"question", std::move(question)},           {"advice", "Сотқа арыз"}};
}

} // namespace

TEST_CASE("ui: the first run, a visit and a consultation are saved as the CLI reads them") {
    App app;
    auto res = app.browser->get("/");
    REQUIRE(res);
    CHECK(res->body.find("action=\"/setup\"") != std::string::npos); // no database yet
    app.set_up_with_visit();
    res = app.browser->post("/consult", consultation("Жер телімі туралы"));
    REQUIRE(res);
    REQUIRE(res->status == 303);
    const std::string location = res->get_header_value("Location");
    CHECK(location.starts_with("/consult/new?saved="));
    // "Saved" is shown only now, and the form is empty for the next person.
    res = app.browser->get(location);
    REQUIRE(res);
    CHECK(res->body.find("Saved: consultation") != std::string::npos);
    CHECK(res->body.find("data-saved=\"consult\"") != std::string::npos);
    CHECK(res->body.find("Жер телімі") == std::string::npos);

    const auto saved = app.consultations();
    REQUIRE(saved.size() == 1);
    const auto& c = saved[0];
    CHECK(location.ends_with(c.id));
    CHECK(c.person.gender == "female");
    CHECK(c.person.age == "33-45");
    CHECK(c.person.category == "unemployed");
    CHECK(c.person.vulnerable == true);
    CHECK(c.topics == std::vector<std::string>{"land", "inheritance"});
    CHECK(c.outcome == "case");
    CHECK(c.follow_up);
    CHECK(c.lang == std::optional<std::string>("kk"));
    CHECK(c.question == "Жер телімі туралы");
    CHECK(c.advice == "Сотқа арыз");
    CHECK(c.village == "Қордай");
    CHECK(c.lawyer == "Айгүл Сейітова");

    // The list finds it by a word of its question, and by topic; not by another outcome.
    res = app.browser->get("/consultations?q=%D0%B6%D0%B5%D1%80");
    REQUIRE(res);
    CHECK(res->body.find("Қордай") != std::string::npos);
    res = app.browser->get("/consultations?outcome=advice");
    REQUIRE(res);
    CHECK(res->body.find("Nothing matches.") != std::string::npos);
}

TEST_CASE("ui: a bad field comes back next to the field with everything typed kept") {
    App app;
    app.set_up_with_visit();
    auto fields = consultation("<b>Question</b> & more");
    fields.erase("age");
    fields.emplace("age", "");
    auto res = app.browser->post("/consult", fields);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->body.find("name=\"age\" aria-invalid=\"true\"") != std::string::npos);
    CHECK(res->body.find("age: choose one") != std::string::npos);
    // Typed text is kept, escaped, never interpreted.
    CHECK(res->body.find("&lt;b&gt;Question&lt;&#x2F;b&gt; &amp; more") != std::string::npos);
    CHECK(res->body.find("<b>Question") == std::string::npos);
    CHECK(res->body.find("value=\"land\" checked") != std::string::npos);
    // A value the engine refuses is named the same way, in the chosen language.
    fields = consultation("q");
    fields.erase("gender");
    fields.emplace("gender", "robot");
    res = app.browser->get("/lang?to=ru&back=/consult/new");
    REQUIRE(res);
    CHECK(res->status == 303);
    CHECK(res->get_header_value("Set-Cookie").starts_with("caravan_lang=ru;"));
    CHECK(res->get_header_value("Location") == "/consult/new");
    app.browser->choose_language("ru");
    res = app.browser->post("/consult", fields);
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->body.find("aria-describedby=\"gender-error\"") != std::string::npos);
    CHECK(res->body.find("Ничего не сохранено") != std::string::npos);
    CHECK(app.consultations().empty());
}

TEST_CASE("ui: a busy database is waited for, then said, and the form is kept") {
    App app(1500);
    app.set_up_with_visit();
    sqlite3* holder = nullptr;
    REQUIRE(sqlite3_open(app.db.c_str(), &holder) == SQLITE_OK);
    REQUIRE(sqlite3_exec(holder, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
    SECTION("held past the retry window: said, kept, nothing saved") {
        auto res = app.browser->post("/consult", consultation("Busy question"));
        sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
        REQUIRE(res);
        CHECK(res->status == 503);
        CHECK(res->body.find("The database is busy") != std::string::npos);
        CHECK(res->body.find("Busy question") != std::string::npos);
        CHECK(app.consultations().empty());
    }
    SECTION("released within the window: saved once") {
        std::thread release([holder] {
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            sqlite3_exec(holder, "ROLLBACK", nullptr, nullptr, nullptr);
        });
        auto res = app.browser->post("/consult", consultation("Waited question"));
        release.join();
        REQUIRE(res);
        CHECK(res->status == 303);
        CHECK(app.consultations().size() == 1);
    }
    sqlite3_close(holder);
}

TEST_CASE("ui: `caravan ui` prints the one link that opens the app and stops on SIGTERM") {
    test::TempDir dir;
    const auto out = dir.path() / "out.txt";
    test::BackgroundProcess ui({test::binary("caravan").string(), "--db",
                                (dir.path() / "c.db").string(), "ui", "--no-browser"},
                               {}, out, dir.path() / "err.txt");
    std::string url;
    for (int i = 0; i < 100 && url.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const std::string text = test::read_file(out);
        if (const auto at = text.find("http://127.0.0.1:"); at != std::string::npos) {
            const auto end = text.find_first_of(" \n", at);
            if (end != std::string::npos) {
                url = text.substr(at, end - at);
            }
        }
    }
    REQUIRE_FALSE(url.empty());
    const int port = std::stoi(url.substr(17, url.find('/', 17) - 17));
    test::TestBrowser browser(port);
    CHECK(browser.open(url));
    CHECK(browser.get("/")->status == 200);
    ui.kill_now(SIGTERM);
    const auto status = ui.wait(std::chrono::seconds(10));
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("ui: a record is corrected, deleted and restored, and its history names the lawyer") {
    App app;
    app.set_up_with_visit();
    auto res = app.browser->post("/consult", consultation("Жер"));
    REQUIRE(res);
    REQUIRE(res->status == 303);
    const std::string id = app.consultations().at(0).id;
    res = app.browser->get("/consultation?id=" + id);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->body.find("Айгүл Сейітова") != std::string::npos);
    CHECK(res->body.find("recorded") != std::string::npos);

    // Only the outcome changes: one update event writing only it.
    auto fields = consultation("Жер");
    fields.erase("outcome");
    fields.emplace("outcome", "advice");
    fields.emplace("id", id);
    res = app.browser->post("/consultation/edit", fields);
    REQUIRE(res);
    REQUIRE(res->status == 303);
    CHECK(res->get_header_value("Location").ends_with("&saved=1"));
    CHECK(app.consultations().at(0).outcome == "advice");
    CHECK(app.consultations().at(0).question == "Жер");
    res = app.browser->get("/consultation?id=" + id);
    REQUIRE(res);
    CHECK(res->body.find("changed") != std::string::npos);
    CHECK(res->body.find("outcome: advice given") != std::string::npos);
    // The question was written once, by the creation: the edit did not rewrite it.
    const auto first = res->body.find("Жер</li>");
    REQUIRE(first != std::string::npos);
    CHECK(res->body.find("Жер</li>", first + 1) == std::string::npos);

    // The same values again: nothing written.
    fields = consultation("Жер");
    fields.erase("outcome");
    fields.emplace("outcome", "advice");
    fields.emplace("id", id);
    res = app.browser->post("/consultation/edit", fields);
    REQUIRE(res);
    CHECK(res->get_header_value("Location").ends_with("&same=1"));

    res = app.browser->post("/consultation/delete", {{"id", id}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    CHECK(app.consultations().empty());
    res = app.browser->get("/consultation?id=" + id);
    REQUIRE(res);
    CHECK(res->body.find("is deleted") != std::string::npos);
    res = app.browser->post("/consultation/undelete", {{"id", id}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    REQUIRE(app.consultations().size() == 1);
    CHECK(app.consultations().at(0).outcome == "advice");
    res = app.browser->get("/consultation?id=" + id + "&restored=1");
    REQUIRE(res);
    CHECK(res->body.find("restored") != std::string::npos);
    CHECK(res->body.find("deleted") != std::string::npos);
}

TEST_CASE("ui: a hall's attendance grid is recorded whole or not at all, and a survey") {
    App app;
    app.set_up_with_visit();
    auto status = [&] {
        client::EngineOptions options;
        options.create = false;
        auto engine = client::Engine::open(app.db, options);
        REQUIRE(engine);
        auto st = engine->status();
        REQUIRE(st);
        return *st;
    };
    // A bad cell refuses the whole grid and names the cell; the counts typed are kept.
    auto res = app.browser->post("/attendance", {{"category", "older"},
                                                  {"n_7_0", "12"},
                                                  {"n_6_1", "three"}});
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->body.find("46–58, male: a head count is a whole number") != std::string::npos);
    CHECK(res->body.find("name=\"n_6_1\" value=\"three\"") != std::string::npos);
    CHECK(res->body.find("name=\"n_7_0\" value=\"12\"") != std::string::npos);
    CHECK(status().participants == 0);
    res = app.browser->post("/attendance", {{"n_7_0", "12"}});
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->body.find("category: choose one") != std::string::npos);
    CHECK(status().participants == 0);

    res = app.browser->post("/attendance", {{"category", "older"},
                                            {"vulnerable", "yes"},
                                            {"n_7_0", "12"},
                                            {"n_7_1", "7"},
                                            {"n_6_0", ""}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    res = app.browser->get(res->get_header_value("Location"));
    REQUIRE(res);
    CHECK(res->body.find("Recorded: 19 people in 2 entries.") != std::string::npos);
    CHECK(status().participants == 19);
    CHECK(status().attendance_entries == 2);

    res = app.browser->post("/survey", {{"respondents", "10"}, {"satisfied", "x"}});
    REQUIRE(res);
    CHECK(res->status == 400);
    res = app.browser->post("/survey", {{"respondents", "10"}, {"satisfied", "9"}});
    REQUIRE(res);
    REQUIRE(res->status == 303);
    CHECK(status().surveys == 1);
}

TEST_CASE("ui: exports download the same bytes as the CLI's, and leave no scratch file") {
    App app;
    app.set_up_with_visit();
    REQUIRE(app.browser->post("/consult", consultation("Жер"))->status == 303);
    REQUIRE(app.browser->post("/consult", consultation("Мұра"))->status == 303);
    app.browser->choose_language("kk");
    auto res = app.browser->get("/export/journal?format=csv");
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->get_header_value("Content-Disposition").find("journal-") != std::string::npos);
    CHECK(res->get_header_value("Content-Type").starts_with("text/csv"));
    const auto cli = test::run_process({test::binary("caravan").string(), "--db", app.db.string(),
                                        "--lang", "kk", "export", "journal", "--all", "--format", "csv"});
    REQUIRE(cli.exit_code == 0);
    CHECK(res->body == cli.out);

    res = app.browser->get("/export/journal?format=xlsx");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.starts_with("PK")); // a zip: the XLSX container
    res = app.browser->get("/export/breakdown?format=json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body.find("\"participants\"") != std::string::npos);

    // A bad request is named and nothing is downloaded.
    res = app.browser->get("/export/journal?format=pdf");
    REQUIRE(res);
    CHECK(res->status == 400);
    res = app.browser->get("/export/journal?format=csv&from=2026-13-01");
    REQUIRE(res);
    CHECK(res->status == 400);

    // Indicators against an uploaded plan (a multipart form with its CSRF token).
    httplib::Client http("127.0.0.1", app.server->port());
    const std::string plan = test::read_file(std::filesystem::path(CARAVAN_SOURCE_DIR) /
                                             "docs/examples/plan-2024.json");
    REQUIRE_FALSE(plan.empty());
    httplib::MultipartFormDataItems items{{"csrf", app.browser->csrf(), "", ""},
                                          {"format", "json", "", ""},
                                          {"plan", plan, "plan-2024.json", "application/json"}};
    auto up = http.Post("/export/indicators",
                        httplib::Headers{{"Cookie", app.browser->cookie()},
                                         {"Origin", "http://127.0.0.1:" + std::to_string(app.server->port())}},
                        items);
    REQUIRE(up);
    CHECK(up->status == 200);
    CHECK(up->body.find("\"indicators\"") != std::string::npos);
    // Without the token the upload is refused like any other post.
    httplib::MultipartFormDataItems no_token{{"format", "json", "", ""},
                                             {"plan", plan, "plan-2024.json", "application/json"}};
    up = http.Post("/export/indicators", httplib::Headers{{"Cookie", app.browser->cookie()}}, no_token);
    REQUIRE(up);
    CHECK(up->status == 403);
    // Each scratch file goes when its answer is done (the server finishes just after the client
    // has read the last byte: allow it a moment).
    const auto scratch = app.db.parent_path() / ".caravan-ui-exports";
    for (int i = 0; i < 40 && std::filesystem::exists(scratch) && !std::filesystem::is_empty(scratch); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (std::filesystem::exists(scratch)) {
        for (const auto& e : std::filesystem::directory_iterator(scratch)) {
            FAIL_CHECK("left behind: " << e.path().filename());
        }
    }
}

TEST_CASE("ui: photos chosen together are recorded with their EXIF, copied by hash, duplicates flagged") {
    App app;
    app.set_up_with_visit();
    test::ExifSpec second;
    second.comment = "another image";
    second.gps = false;
    const std::string one = test::make_jpeg({});
    const std::string two = test::make_jpeg(second);
    httplib::Client http("127.0.0.1", app.server->port());
    const httplib::Headers headers{{"Cookie", app.browser->cookie()},
                                   {"Origin", "http://127.0.0.1:" + std::to_string(app.server->port())}};
    httplib::MultipartFormDataItems items{{"csrf", app.browser->csrf(), "", ""},
                                          {"caption", "Кеңес беру", "", ""},
                                          {"consent", "1", "", ""},
                                          {"files", one, "IMG_0001.jpg", "image/jpeg"},
                                          {"files", two, "../../IMG_0002.jpg", "image/jpeg"},
                                          {"files", one, "IMG_0001 copy.jpg", "image/jpeg"}};
    auto res = http.Post("/photos", headers, items);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    CHECK(res->body.find("Recorded: 3 photos, 1 of them already recorded before.") != std::string::npos);
    CHECK(res->body.find("already recorded: not counted again") != std::string::npos);
    CHECK(res->body.find("taken 2024-05-14T10:31") != std::string::npos);
    CHECK(res->body.find("GPS 43.25847, 76.95000") != std::string::npos);
    client::EngineOptions options;
    options.create = false;
    auto engine = client::Engine::open(app.db, options);
    REQUIRE(engine);
    CHECK(engine->status()->photos == 2);
    // The copies are the device's own, by hash; the upload's names never became paths.
    std::size_t copies = 0;
    for (const auto& e : std::filesystem::directory_iterator(engine->photo_folder())) {
        CHECK(e.path().filename().string().size() == 64 + 4);
        ++copies;
    }
    CHECK(copies == 2);
    CHECK_FALSE(std::filesystem::exists(app.db.parent_path() / "IMG_0002.jpg"));
    const auto incoming = app.db.parent_path() / ".caravan-ui-incoming";
    CHECK((!std::filesystem::exists(incoming) || std::filesystem::is_empty(incoming)));
    // The thumbnail answers for a recorded photo only.
    std::string sha;
    for (const auto& e : std::filesystem::directory_iterator(engine->photo_folder())) {
        sha = e.path().stem().string();
    }
    auto thumb = app.browser->get("/photo/thumb?sha=" + sha);
    REQUIRE(thumb);
    CHECK(thumb->status == 200);
    CHECK(thumb->get_header_value("Content-Type") == "image/jpeg");
    thumb = app.browser->get("/photo/thumb?sha=" + std::string(64, 'a'));
    REQUIRE(thumb);
    CHECK(thumb->status == 404);
    thumb = app.browser->get("/photo/thumb?sha=..%2F..%2Fcaravan.db");
    REQUIRE(thumb);
    CHECK(thumb->status == 404);
    // None chosen: said, nothing recorded.
    httplib::MultipartFormDataItems empty{{"csrf", app.browser->csrf(), "", ""}};
    res = http.Post("/photos", headers, empty);
    REQUIRE(res);
    CHECK(res->status == 400);
}

TEST_CASE("ui: the vulnerable choice is not recorded, yes or no, and nothing else") {
    App app;
    app.set_up_with_visit();
    auto res = app.browser->get("/consult/new");
    REQUIRE(res);
    // Three answers, "not recorded" chosen until the lawyer picks another.
    CHECK(res->body.find("<option value=\"\" selected>not recorded</option>"
                         "<option value=\"yes\">yes</option><option value=\"no\">no</option>") !=
          std::string::npos);
    const auto with = [](const std::string& question, const std::string& vulnerable) {
        auto fields = consultation(question);
        fields.erase("vulnerable");
        fields.emplace("vulnerable", vulnerable);
        return fields;
    };
    res = app.browser->post("/consult", with("Бірінші", ""));
    REQUIRE(res);
    REQUIRE(res->status == 303);
    res = app.browser->post("/consult", with("Екінші", "no"));
    REQUIRE(res);
    REQUIRE(res->status == 303);
    // Anything else is refused next to the field, and nothing is saved.
    res = app.browser->post("/consult", with("Үшінші", "1"));
    REQUIRE(res);
    CHECK(res->status == 400);
    CHECK(res->body.find("id=\"vulnerable-error\">vulnerable: choose one") != std::string::npos);

    std::map<std::string, client::Consultation> by_question;
    for (const auto& c : app.consultations()) {
        by_question.emplace(c.question, c);
    }
    REQUIRE(by_question.size() == 2);
    CHECK_FALSE(by_question.at("Бірінші").person.vulnerable.has_value());
    CHECK(by_question.at("Екінші").person.vulnerable == false);

    // The record page shows the stored answer and clears it back to not recorded.
    const std::string id = by_question.at("Екінші").id;
    res = app.browser->get("/consultation?id=" + id);
    REQUIRE(res);
    CHECK(res->body.find("<option value=\"no\" selected>no</option>") != std::string::npos);
    auto fields = with("Екінші", "");
    fields.emplace("id", id);
    res = app.browser->post("/consultation/edit", fields);
    REQUIRE(res);
    REQUIRE(res->status == 303);
    for (const auto& c : app.consultations()) {
        CHECK_FALSE(c.person.vulnerable.has_value());
    }
}
