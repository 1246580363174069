// Sync through tests/support/fault_proxy: dropped connections at random byte offsets, truncated
// responses, duplicated requests, 500/503 from a middlebox, slow and stalled links. After the
// faults stop, the server must hold every event exactly once and every device must converge.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

#include <atomic>

#include "fault_proxy.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

void record_something(const Laptop& l, std::mt19937& rng, int round) {
    if (rng() % 2 == 0) {
        l.must({"consult", "add", "--gender", rng() % 2 ? "female" : "male", "--age", "23-27",
                "--category", "youth", "--topic", "labour", "--outcome", "advice", "--question",
                "раунд " + std::to_string(round), "--lang", "ru"});
    } else {
        l.must({"attend", "add", "--gender", "female", "--age", "46-58", "--category", "other",
                "--count", std::to_string(1 + rng() % 9)});
    }
}

} // namespace

TEST_CASE("e2e faults: 20 rounds of recording and syncing through a lossy, duplicating link lose "
          "nothing and store nothing twice",
          "[e2e][faults]") {
    TempDir dir;
    Server server(dir / "server");
    FaultProxy proxy(server.port());
    auto laptops = field_team(dir.path(), server, proxy.url(), 3);

    Faults f;
    f.drop_request = 0.08;
    f.drop_response = 0.10;
    f.truncate_response = 0.08;
    f.duplicate_request = 0.10;
    f.error_500 = 0.05;
    f.error_503 = 0.05;
    f.seed = 7;
    proxy.set_faults(f);
    std::mt19937 rng(99);
    int failed_syncs = 0;
    for (int round = 0; round < 20; ++round) {
        for (auto& l : laptops) {
            record_something(*l, rng, round);
            ProcessResult r =
                l->sync({"--attempts", "2", "--batch-bytes", "1024", "--page-size", "4"});
            INFO("round " << round << ": " << describe(r));
            // Failing is allowed under faults; failing badly is not.
            REQUIRE((r.exit_code == 0 || r.exit_code == 4 || r.exit_code == 6));
            failed_syncs += r.exit_code != 0;
        }
    }
    ProxyStats stats = proxy.stats();
    REQUIRE(stats.dropped_requests > 0);
    REQUIRE(stats.dropped_responses > 0);
    REQUIRE(stats.truncated > 0);
    REQUIRE(stats.duplicated > 0);
    REQUIRE(stats.errors > 0);
    INFO(failed_syncs << " syncs failed under faults");

    proxy.set_faults({});
    settle(server, laptops);
}

TEST_CASE_METHOD(
    ProxiedLaptop,
    "e2e faults: a slow link still syncs, a stalled one times out with exit 4 and loses "
    "nothing",
    "[e2e][faults]") {
    a.must({"village", "add", "Қызылжар", "--region", k_region});

    Faults slow;
    slow.delay = std::chrono::milliseconds(2500);
    proxy.set_faults(slow);
    auto started = std::chrono::steady_clock::now();
    ProcessResult r = a.sync({"--low-speed-time", "1", "--attempts", "1"});
    INFO(describe(r));
    REQUIRE(r.exit_code == 4);
    REQUIRE(r.err.find("stalled") != std::string::npos);
    REQUIRE(std::chrono::steady_clock::now() - started < std::chrono::seconds(10));

    slow.delay = std::chrono::milliseconds(300);
    proxy.set_faults(slow);
    a.must_sync({"--low-speed-time", "5"});
    require_exactly_once(server, {&a});
    REQUIRE(a.must_json({"status"})["unsynced"] == 0);
}

TEST_CASE_METHOD(
    ProxiedLaptop,
    "e2e faults: the proxy answers 503 with Retry-After and the sync waits and succeeds",
    "[e2e][faults]") {
    a.must({"village", "add", "Қызылжар", "--region", k_region});
    Faults busy;
    busy.error_503 = 0.5;
    busy.seed = 3;
    proxy.set_faults(busy);
    auto started = std::chrono::steady_clock::now();
    ProcessResult r = a.sync({"--attempts", "8"});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    if (proxy.stats().errors > 0) {
        // Retry-After: 1 is honoured even though the backoff base is 5 ms.
        REQUIRE(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(900));
    }
    require_exactly_once(server, {&a});
}

TEST_CASE_METHOD(
    ProxiedLaptop,
    "e2e faults: `caravan sync --json` that fails part way still prints what it moved, "
    "with the error",
    "[e2e][faults]") {
    a.start_field_day();
    for (int i = 0; i < 12; ++i) {
        a.must({"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                "сұрақ " + std::to_string(i), "--lang", "kk"});
    }
    // The first push goes through; from then on the link answers 500 to everything.
    std::atomic<bool> broken{false};
    proxy.on_response([&](const std::string& path) {
        if (path == "/v1/push" && !broken.exchange(true)) {
            Faults f;
            f.error_500 = 1.0;
            proxy.set_faults(f);
        }
    });
    ProcessResult r = a.sync({"--json", "--attempts", "2", "--batch-bytes", "1024"});
    INFO(describe(r));
    REQUIRE(r.exit_code == 6);
    json out = json::parse(r.out); // exactly one document
    CHECK(out["result"] == "server");
    CHECK(out["pushed"].get<std::int64_t>() > 0);
    CHECK(out["pushed"].get<std::int64_t>() < 15);
    CHECK(out["pulled"] == 0);
    CHECK(out["rejected"] == 0);
    CHECK(out["requests"].get<std::int64_t>() >= 3);
    CHECK(out["bytes_up"].get<std::int64_t>() > 0);
    CHECK(out["bytes_down"].get<std::int64_t>() > 0);
    CHECK(out["error"]["code"] == "server");
    CHECK_FALSE(out["error"]["message"].get<std::string>().empty());
    CHECK(r.err.find("caravan:") != std::string::npos);

    // What it reported is what the server holds; the rest goes with the next sync.
    proxy.set_faults({});
    json again = json::parse(a.must({"sync", "--json"}));
    CHECK(again["result"] == "ok");
    CHECK(again["pushed"].get<std::int64_t>() + out["pushed"].get<std::int64_t>() == 15);
}
