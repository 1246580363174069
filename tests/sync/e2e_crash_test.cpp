// kill -9 in the middle of a sync: the client after the server committed a batch (its answer
// never arrives), the client while it applies pulled pages, the server while it ingests
// batches. After recovery the server holds every event exactly once and the devices converge.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

#include <signal.h>

#include <atomic>
#include <set>

#include "fault_proxy.hpp"
#include "raw_device_db.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

// Records `n` consultations in-process, in one transaction (fast), like a long offline week.
void record_many(const Laptop& l, int n, const std::string& village) {
    auto engine = ok(client::Engine::open(l.db()));
    auto done = engine.batch([&]() -> Result<void> {
        auto v = engine.add_village({village, k_region, std::nullopt, std::nullopt, std::nullopt});
        if (!v && v.error().code != ErrorCode::conflict) {
            return tl::unexpected(v.error());
        }
        auto visit = engine.start_visit(village, std::string("2024-05-20"));
        if (!visit) {
            return tl::unexpected(visit.error());
        }
        for (int i = 0; i < n; ++i) {
            client::ConsultationInput in;
            in.visit = visit->id;
            in.person = {i % 2 ? "male" : "female", "33-45", "unemployed", i % 3 == 0};
            in.topics = {"housing"};
            in.outcome = "document";
            in.question = "сұрақ " + std::to_string(i) + " " + std::string(100, 'q');
            in.advice = "кеңес";
            in.lang = "kk";
            if (auto c = engine.add_consultation(in); !c) {
                return tl::unexpected(c.error());
            }
        }
        return {};
    });
    REQUIRE(done);
}

// `caravan sync` in the background, so that a test can kill it.
std::unique_ptr<BackgroundProcess> start_sync(const Laptop& l, const fs::path& dir,
                                              std::vector<std::string> extra) {
    std::vector<std::string> argv = {binary("caravan").string(), "--db", l.db().string(),  "sync",
                                     "--retry-base-ms",          "5",    "--retry-cap-ms", "50"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<BackgroundProcess>(argv, l.env(), dir / "sync.out", dir / "sync.err");
}

} // namespace

TEST_CASE_METHOD(
    ProxiedLaptop,
    "e2e crash: the client killed after the server committed a push batch resends it and "
    "nothing is stored twice",
    "[e2e][crash]") {

    for (int kill_at : {1, 2, 4}) {
        DYNAMIC_SECTION("killed when the answer to push " << kill_at << " is on its way") {
            record_many(a, 300, "Ауыл " + std::to_string(kill_at));
            std::atomic<pid_t> victim{-1};
            std::atomic<int> pushes{0};
            std::atomic<bool> killed{false};
            proxy.on_response([&](const std::string& path) {
                if (path == "/v1/push" && ++pushes == kill_at) {
                    for (int i = 0; i < 1000 && victim.load() < 0; ++i) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    }
                    if (victim.load() > 0) {
                        killed = true; // before the kill: the test wakes up when it lands
                        ::kill(victim.load(), SIGKILL);
                    }
                }
            });
            auto sync = start_sync(a, dir.path(), {"--batch-bytes", "4096"});
            victim = sync->pid();
            auto status = sync->wait(std::chrono::seconds(60));
            proxy.on_response({});
            REQUIRE(status);
            INFO("sync: " << read_file(dir / "sync.out") << read_file(dir / "sync.err"));
            REQUIRE(killed);
            REQUIRE(WIFSIGNALED(*status));

            a.must_sync();
            require_exactly_once(server, {&a});
            REQUIRE(a.must_json({"status"})["unsynced"] == 0);
        }
    }
}

TEST_CASE("e2e crash: the client killed while pulling pages, at random moments, resumes from its "
          "cursor and converges",
          "[e2e][crash]") {
    TempDir dir;
    Server server(dir / "server");
    Laptop source(dir / "source.db");
    source.setup(server, "Source");
    record_many(source, 600, "Қызылжар");
    source.must_sync();

    std::mt19937 rng(4242);
    for (int round = 0; round < 3; ++round) {
        DYNAMIC_SECTION("round " << round) {
            Laptop fresh(dir / ("fresh" + std::to_string(round) + ".db"));
            fresh.setup(server, "Fresh " + std::to_string(round));
            int kills = 0;
            std::set<std::int64_t> cursors_after_kills;
            // The kill comes 20-320 ms after the start, later each time a kill found the pull
            // not yet begun (a slow machine or a sanitizer build starts the process slowly).
            int not_begun_ms = 0;
            for (int attempt = 0; attempt < 8; ++attempt) {
                auto sync = start_sync(fresh, dir.path(), {"--page-size", "20"});
                std::this_thread::sleep_for(
                    std::chrono::milliseconds(20 + not_begun_ms + rng() % 300));
                sync->kill_now(9);
                auto status = sync->wait(std::chrono::seconds(30));
                REQUIRE(status);
                if (WIFEXITED(*status)) {
                    REQUIRE(WEXITSTATUS(*status) == 0); // it finished before the kill
                    break;
                }
                ++kills;
                // Whatever the moment, the database is sound and the cursor matches the data.
                auto engine = ok(client::Engine::open(fresh.db()));
                REQUIRE(ok(test::integrity_problems(fresh.db())).empty());
                std::int64_t cursor =
                    ok(sync::agent::AgentState(engine.component_storage()).pull_cursor());
                cursors_after_kills.insert(cursor);
                if (cursor == 0) {
                    not_begun_ms += 200;
                }
            }
            INFO(kills << " kills");
            // Some kills landed between pages: the cursor moved, and was kept, across them.
            if (kills >= 3) {
                REQUIRE(cursors_after_kills.size() >= 2);
            }
            fresh.must_sync();
            source.must_sync(); // learns the fresh device's own record
            REQUIRE(fresh.fingerprint() == source.fingerprint());
            require_converged({&source, &fresh});
        }
    }
}

TEST_CASE("e2e crash: the server killed while ingesting batches restarts from its database, "
          "devices resume and nothing is lost or doubled",
          "[e2e][crash]") {
    TempDir dir;
    Server server(dir / "server");
    FaultProxy proxy(server.port());
    Laptop a(dir / "a.db");
    Laptop b(dir / "b.db");
    a.setup(server, "Арнат");
    b.setup(server, "Болат");
    a.use_server_url(proxy.url());
    b.use_server_url(proxy.url());

    std::mt19937 rng(17);
    for (int round = 0; round < 4; ++round) {
        record_many(a, 300, "Ауыл " + std::to_string(round));
        auto sync = start_sync(a, dir.path(), {"--batch-bytes", "2048", "--attempts", "3"});
        std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 250));
        server.kill9();
        auto status = sync->wait(std::chrono::seconds(60));
        REQUIRE(status);
        REQUIRE(WIFEXITED(*status));
        INFO("round " << round << ": " << read_file(dir / "sync.err"));
        // Done before the kill, or offline/faulted by it: never anything else.
        int code = WEXITSTATUS(*status);
        REQUIRE((code == 0 || code == 4 || code == 6));
        server.start();
        proxy.set_upstream(server.port());
    }
    a.must_sync();
    b.must_sync();
    a.must_sync();
    require_exactly_once(server, {&a, &b});
    require_converged({&a, &b});
}
