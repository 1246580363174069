// The real `caravan consult add`, killed with SIGKILL at random points of its short life, round
// after round on one database: what it printed as saved is there, and the database stays sound.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <random>
#include <thread>

#include "caravan/client/engine.hpp"
#include "cli_helpers.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using nlohmann::json;
using test::Mode;

namespace {

std::vector<std::string> add_args(const std::filesystem::path& caravan,
                                  const std::filesystem::path& db, int round) {
    return {caravan.string(), "--db",       db.string(),
            "--json",         "consult",    "add",
            "--gender",       "female",     "--age",
            "46-58",          "--category", "disability",
            "--topic",        "benefits",   "--outcome",
            "referred",       "--question", "Жәрдемақы, раунд " + std::to_string(round)};
}

} // namespace

TEST_CASE("crash: the caravan binary killed at random points of consult add loses nothing it "
          "reported as saved",
          "[cli][crash]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    const auto caravan = test::binary("caravan");
    test::run_cli_ok(Mode::binary, db,
                     {"init", "--lawyer", "Гүлнар Сейітова", "--region", "Абай обл."});
    test::run_cli_ok(Mode::binary, db, {"village", "add", "Қайнар", "--region", "Абай обл."});
    test::run_cli_ok(Mode::binary, db,
                     {"visit", "start", "--village", "Қайнар", "--date", "2024-06-03"});

    // How long one uninterrupted add takes here, so the kills land before, during and after one.
    auto started = std::chrono::steady_clock::now();
    auto first = test::run_process(add_args(caravan, db, 0));
    auto typical = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    REQUIRE(first.exit_code == 0);
    std::mt19937 rng(424242);
    std::uniform_int_distribution<long> delay_ms(0, std::max<long>(2, typical.count() * 2));

    int saved = 1, killed = 0;
    constexpr int k_rounds = 20;
    for (int round = 1; round <= k_rounds; ++round) {
        INFO("round " << round);
        // Per round: a child killed before it opened its stdout file leaves no stale output.
        const auto out = dir / ("add-" + std::to_string(round) + ".out");
        const auto err = dir / ("add-" + std::to_string(round) + ".err");
        bool completed = false;
        {
            test::BackgroundProcess child(add_args(caravan, db, round), {}, out, err);
            std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
            child.kill_now(SIGKILL);
            auto status = child.wait(std::chrono::seconds(10));
            REQUIRE(status);
            completed = WIFEXITED(*status);
            if (completed) {
                INFO("stderr: " << test::read_file(err));
                REQUIRE(WEXITSTATUS(*status) == 0);
            }
        }
        const std::string printed = test::read_file(out);
        auto engine = client::Engine::open(db);
        REQUIRE(engine);
        if (json::accept(printed)) {
            // Printed only after the commit: it must be there.
            auto id = json::parse(printed)["id"].get<std::string>();
            auto c = engine->find_consultation(id);
            REQUIRE(c);
            CHECK(c->question == "Жәрдемақы, раунд " + std::to_string(round));
            ++saved;
        } else {
            CHECK_FALSE(completed);
            ++killed;
        }
        auto problems = test::integrity_problems(db);
        REQUIRE(problems);
        REQUIRE(problems->empty());
        // Whatever got in is whole: the projection equals a rebuild from the log.
        auto before = engine->fingerprint();
        REQUIRE(engine->rebuild_projections());
        CHECK(engine->fingerprint().value() == before.value());
        auto st = engine->status();
        REQUIRE(st);
        CHECK(st->consultations >= saved);
        CHECK(st->consultations <= round + 1);
    }
    // Both fates occurred, or the test proved less than it claims.
    INFO("saved " << saved << ", killed " << killed << ", typical add " << typical.count()
                  << " ms");
    CHECK(saved > 1);
    CHECK(killed > 0);
}
