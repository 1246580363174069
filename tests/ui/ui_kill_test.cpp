// `caravan ui` killed with SIGKILL while it saves: every consultation the app confirmed (a 303
// to "saved") is in the database exactly once, nothing is there twice, and the file is whole.
#include <atomic>
#include <csignal>
#include <map>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "caravan/client/engine.hpp"
#include "process.hpp"
#include "temp_dir.hpp"
#include "ui_test_support.hpp"

using namespace caravan;

namespace {

std::string wait_for_link(const std::filesystem::path& out) {
    for (int i = 0; i < 200; ++i) {
        const std::string text = test::read_file(out);
        if (const auto at = text.find("http://127.0.0.1:"); at != std::string::npos) {
            if (const auto end = text.find_first_of(" \n", at); end != std::string::npos) {
                return text.substr(at, end - at);
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
}

} // namespace

TEST_CASE("ui kill: a save cut by SIGKILL is either confirmed and there once, or not confirmed") {
    test::TempDir dir;
    const auto db = dir.path() / "caravan.db";
    std::mt19937 rng(20261205);
    std::map<std::string, int> confirmed; // question → confirmations
    int sent = 0;
    for (int round = 0; round < 3; ++round) {
        const auto out = dir.path() / ("out" + std::to_string(round) + ".txt");
        test::BackgroundProcess ui({test::binary("caravan").string(), "--db", db.string(), "ui",
                                    "--no-browser"},
                                   {}, out, dir.path() / "err.txt");
        const std::string url = wait_for_link(out);
        REQUIRE_FALSE(url.empty());
        const int port = std::stoi(url.substr(17, url.find('/', 17) - 17));
        test::TestBrowser browser(port);
        REQUIRE(browser.open(url));
        if (round == 0) {
            REQUIRE(browser.post("/setup", {{"lawyer", "Aigul"}, {"region", "Zhambyl"}})->status == 303);
            browser.get("/");
            REQUIRE(browser.post("/visit/start", {{"new_village", "Korday"}})->status == 303);
            browser.get("/consult/new");
        }
        std::atomic<bool> stop{false};
        std::thread saver([&] {
            while (!stop) {
                const std::string question = "q" + std::to_string(sent++);
                auto res = browser.post("/consult", {{"gender", "female"}, {"age", "33-45"},
                                                     {"category", "youth"}, {"topic", "land"},
                                                     {"outcome", "advice"}, {"question", question},
                                                     {"advice", "a"}});
                if (!res) {
                    return; // the server is gone: this save was not confirmed
                }
                if (res->status == 303) {
                    ++confirmed[question];
                }
            }
        });
        std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
        ui.kill_now(SIGKILL);
        stop = true;
        saver.join();
        REQUIRE(ui.wait(std::chrono::seconds(10)));
    }
    REQUIRE(confirmed.size() > 3);

    client::EngineOptions options;
    options.create = false;
    auto engine = client::Engine::open(db, options); // runs the quick integrity check
    REQUIRE(engine);
    std::map<std::string, int> stored;
    REQUIRE(engine->list_consultations({}, [&](const client::Consultation& c) {
        ++stored[c.question];
        return true;
    }));
    for (const auto& [question, n] : stored) {
        INFO(question);
        CHECK(n == 1);
    }
    for (const auto& [question, n] : confirmed) {
        INFO(question);
        CHECK(n == 1);
        CHECK(stored.count(question) == 1);
    }
    CHECK(static_cast<int>(stored.size()) <= sent);
    auto report = engine->check(dir.path());
    REQUIRE(report);
    CHECK(report->ok());
}
