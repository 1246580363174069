// Power-cut safety: a writer process (tests/programs/crash_writer.cpp) is killed with SIGKILL
// at random moments while recording. Every consultation whose add() had returned must be
// there afterwards, and the database must pass SQLite's integrity check.

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "caravan/client/ids.hpp"
#include "engine_helpers.hpp"
#include "process.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

// The ids on complete lines; a line cut by the kill does not count as confirmed.
std::vector<std::string> confirmed_ids(const std::string& output) {
    std::vector<std::string> ids;
    size_t start = 0;
    for (size_t nl = output.find('\n'); nl != std::string::npos; nl = output.find('\n', start)) {
        ids.push_back(output.substr(start, nl - start));
        start = nl + 1;
    }
    return ids;
}

} // namespace

TEST_CASE("crash: consultations confirmed before a SIGKILL survive it and the database stays "
          "sound, over 50 kills",
          "[client][crash]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    const auto writer = test::binary("crash_writer");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);

    // One uninterrupted run that records a single consultation: it sets the device up, and its
    // duration is the writer's start-up cost (large under sanitizers), added to every delay so
    // that the kills land among the writes rather than always during start-up.
    std::set<std::string> confirmed;
    auto started = std::chrono::steady_clock::now();
    auto calibration = test::run_process({writer.string(), db.string(), "1"});
    const auto startup = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    INFO("calibration stderr: " << calibration.err);
    REQUIRE(calibration.exit_code == 0);
    REQUIRE(confirmed_ids(calibration.out).size() == 1);
    confirmed.insert(confirmed_ids(calibration.out).front());

    std::mt19937 rng(20241124);
    std::uniform_int_distribution<int> delay_ms(5, 80);

    int rounds_with_new_records = 0;
    constexpr int k_rounds = 50;
    for (int round = 0; round < k_rounds; ++round) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        INFO("round " << round);
        // Per round: a child killed before it opened its stdout file leaves no stale output.
        const auto out = dir / ("writer-" + std::to_string(round) + ".out");
        const auto err = dir / ("writer-" + std::to_string(round) + ".err");
        {
            test::BackgroundProcess child({writer.string(), db.string()}, {}, out, err);
            std::this_thread::sleep_for(startup + std::chrono::milliseconds(delay_ms(rng)));
            child.kill_now(SIGKILL);
            auto status = child.wait(std::chrono::seconds(10));
            REQUIRE(status);
            INFO("writer stderr: " << test::read_file(err));
            REQUIRE(WIFSIGNALED(*status)); // it was still writing, not failing on its own
            CHECK(WTERMSIG(*status) == SIGKILL);
        }
        auto ids = confirmed_ids(test::read_file(out));
        auto engine = ok(Engine::open(db));
        for (const std::string& id : ids) {
            REQUIRE(is_uuid(id));
            auto found = engine.find_consultation(id);
            INFO("confirmed id " << id);
            REQUIRE(found);
            CHECK(found->question.starts_with("Жер дауы №"));
            confirmed.insert(id);
        }
        rounds_with_new_records += ids.empty() ? 0 : 1;
        auto problems = ok(test::integrity_problems(db));
        INFO("integrity: " << (problems.empty() ? "" : problems.front()));
        REQUIRE(problems.empty());
    }

    // Nothing confirmed in an earlier round was lost by a later kill.
    auto engine = ok(Engine::open(db));
    std::set<std::string> present;
    ok(engine.list_consultations({}, [&](const Consultation& c) {
        present.insert(c.id);
        return true;
    }));
    for (const std::string& id : confirmed) {
        REQUIRE(present.count(id) == 1);
    }
    // Unconfirmed records may have been committed just before the kill, but every record has
    // its event: the log and the projections agree, and sequence numbers have no gaps.
    const std::string fp = test::fingerprint(engine);
    ok(engine.rebuild_projections());
    CHECK(test::fingerprint(engine) == fp);
    auto device = ok(engine.device());
    CHECK(ok(engine.last_seq(device.id)) == test::event_count(engine));
    CHECK(present.size() >= confirmed.size());
    // The test proves something only if the writer got work done in most rounds.
    CHECK(rounds_with_new_records >= k_rounds / 2);
    CHECK(confirmed.size() >= static_cast<size_t>(k_rounds));
}
