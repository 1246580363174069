// The chaos run (issue #5): several devices record, edit and delete; a fault proxy drops,
// truncates, delays and duplicates their traffic; `caravan` processes are killed with SIGKILL
// while recording and while syncing, and the server while it serves. With a fixed seed and a
// bounded number of rounds (`--rounds`, default small for CI; `--rounds 2000` for a long run).
// At the end, with faults off, everyone syncs and the run proves:
// - every event a device holds (everything it committed) is on the server exactly once, with
//   the content the device holds;
// - every device's projection equals the others' and the server's, and `sync --verify` agrees;
// - `PRAGMA integrity_check` passes on every database.
// It prints the rounds, kills and faults it survived.
#include "chaos_options.hpp"
#include "e2e_support.hpp"

#include <iostream>

#include "caravan/client/projector.hpp"
#include "fault_proxy.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

struct Tally {
    int records = 0;
    int records_killed = 0;
    int edits = 0;
    int deletes = 0;
    int syncs = 0;
    int syncs_failed = 0;
    int syncs_killed = 0;
    int server_kills = 0;
};

// Runs `caravan ARGS` on `laptop` in the background and kills it with SIGKILL after `after`
// (or lets it finish if it is faster). Returns true when it was still running when killed.
bool run_and_kill(const Laptop& laptop, const fs::path& scratch, std::vector<std::string> args,
                  std::chrono::milliseconds after) {
    std::vector<std::string> argv = {binary("caravan").string(), "--db", laptop.db().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    BackgroundProcess proc(argv, laptop.env(), scratch / "killed.out", scratch / "killed.err");
    std::this_thread::sleep_for(after);
    bool was_running = proc.running();
    proc.kill_now(9);
    (void)proc.wait(std::chrono::seconds(10));
    return was_running;
}

std::vector<std::string> consultation_ids(const Laptop& laptop) {
    json list = laptop.must_json({"consult", "list"});
    std::vector<std::string> ids;
    for (const auto& c : list) {
        ids.push_back(c["id"].get<std::string>());
    }
    return ids;
}

std::vector<std::string> consult_add_args(std::mt19937& rng, int round) {
    static const char* genders[] = {"female", "male", "unrecorded"};
    static const char* topics[] = {"land", "inheritance", "labour", "benefits", "family"};
    static const char* outcomes[] = {"advice", "referred", "document", "case"};
    return {"consult",    "add",
            "--gender",   genders[rng() % 3],
            "--age",      "33-45",
            "--category", "unemployed",
            "--topic",    topics[rng() % 5],
            "--outcome",  outcomes[rng() % 4],
            "--question", "Жер телімі туралы сұрақ, раунд " + std::to_string(round),
            "--advice",   "Әкімдікке өтініш жазу керек",
            "--lang",     "kk"};
}

void require_integrity(const fs::path& file) {
    storage::OpenOptions o;
    o.create = false;
    o.integrity_check = false;
    auto db = ok(storage::Database::open(file, o));
    auto problems = ok(db.integrity_check());
    INFO(file << ": " << (problems.empty() ? "" : problems.front()));
    REQUIRE(problems.empty());
}

std::string server_fingerprint(const Server& server) {
    storage::OpenOptions o;
    o.create = false;
    o.read_only = true;
    o.integrity_check = false;
    auto db = ok(storage::Database::open(server.data() / "server.db", o));
    client::Projector projector(db);
    return ok(projector.fingerprint());
}

} // namespace

TEST_CASE("chaos: devices record, edit and delete while the link fails and processes are killed, "
          "nothing is lost, nothing is stored twice, everyone converges",
          "[chaos]") {
    const chaos::Options& options = chaos::options();
    std::mt19937 rng(static_cast<std::mt19937::result_type>(options.seed));
    TempDir dir;
    Server server(dir / "server");
    FaultProxy proxy(server.port());
    auto laptops = field_team(dir.path(), server, proxy.url(), options.devices);

    Faults faults;
    faults.drop_request = 0.06;
    faults.drop_response = 0.08;
    faults.truncate_response = 0.06;
    faults.duplicate_request = 0.08;
    faults.error_500 = 0.03;
    faults.error_503 = 0.03;
    faults.delay = std::chrono::milliseconds(5);
    faults.seed = options.seed;
    proxy.set_faults(faults);

    Tally tally;
    const fs::path scratch = dir / "scratch";
    fs::create_directories(scratch);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    for (int round = 0; round < options.rounds; ++round) {
        for (auto& l : laptops) {
            // Record: mostly adds, some edits and deletes of any consultation the device sees
            // (its own or another's: concurrent edits and delete-vs-edit happen).
            int what = static_cast<int>(rng() % 100);
            if (what < 15) {
                bool killed = run_and_kill(*l, scratch, consult_add_args(rng, round),
                                           std::chrono::milliseconds(rng() % 40));
                tally.records_killed += killed;
            } else if (what < 30) {
                auto ids = consultation_ids(*l);
                if (!ids.empty()) {
                    const std::string& id = ids[rng() % ids.size()];
                    if (chance(70)) {
                        l->must(
                            {"consult", "edit", id, "--outcome", chance(50) ? "case" : "advice"});
                        ++tally.edits;
                    } else {
                        l->must({"consult", "rm", id});
                        ++tally.deletes;
                    }
                }
            } else if (what < 45) {
                l->must({"attend", "add", "--gender", "female", "--age", "46-58", "--category",
                         "older", "--count", std::to_string(1 + rng() % 9)});
                ++tally.records;
            } else {
                l->must(consult_add_args(rng, round));
                ++tally.records;
            }
            // Sync: through the faulty link, sometimes killed part way.
            if (chance(25)) {
                tally.syncs_killed +=
                    run_and_kill(*l, scratch,
                                 {"sync", "--retry-base-ms", "5", "--retry-cap-ms", "50",
                                  "--attempts", "2", "--batch-bytes", "2048", "--page-size", "8"},
                                 std::chrono::milliseconds(rng() % 400));
            } else {
                ProcessResult r =
                    l->sync({"--attempts", "2", "--batch-bytes", "2048", "--page-size", "8"});
                INFO("round " << round << ": " << describe(r));
                // Failing under faults is allowed; failing badly (a crash, exit 1) is not.
                REQUIRE(
                    (r.exit_code == 0 || r.exit_code == 3 || r.exit_code == 4 || r.exit_code == 6));
                ++tally.syncs;
                tally.syncs_failed += r.exit_code != 0;
            }
        }
        if (chance(20)) {
            // The server killed while a device is syncing through the proxy.
            Laptop& l = *laptops[rng() % laptops.size()];
            std::vector<std::string> argv = {
                binary("caravan").string(), "--db", l.db().string(), "sync", "--retry-base-ms", "5",
                "--retry-cap-ms",           "50",   "--attempts",    "2"};
            BackgroundProcess sync(argv, l.env(), scratch / "sync.out", scratch / "sync.err");
            std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
            server.restart();
            proxy.set_upstream(server.port());
            ++tally.server_kills;
            if (!sync.wait(std::chrono::seconds(60))) {
                sync.kill_now(9);
                FAIL("a sync did not end within 60 s after the server was killed");
            }
        }
    }

    ProxyStats stats = proxy.stats();
    proxy.set_faults({});
    settle(server, laptops);
    CHECK(server_fingerprint(server) == laptops.front()->fingerprint());
    for (auto& l : laptops) {
        require_integrity(l->db());
    }
    require_integrity(server.data() / "server.db");

    std::cout << "chaos: seed " << options.seed << ", " << options.rounds << " rounds, "
              << options.devices << " devices: " << tally.records << " records, " << tally.edits
              << " edits, " << tally.deletes << " deletes; " << tally.records_killed
              << " recordings and " << tally.syncs_killed << " syncs killed with SIGKILL, "
              << tally.server_kills << " server kills; " << tally.syncs << " syncs under faults ("
              << tally.syncs_failed << " failed); proxy: " << stats.requests << " requests, "
              << stats.dropped_requests << " dropped requests, " << stats.dropped_responses
              << " dropped responses, " << stats.truncated << " truncated, " << stats.duplicated
              << " duplicated, " << stats.errors << " 500/503\n";
    if (options.rounds >= 4) {
        // The run must actually have exercised the faults it claims to survive.
        CHECK(stats.dropped_responses + stats.truncated + stats.dropped_requests > 0);
        CHECK(tally.server_kills + tally.syncs_killed + tally.records_killed > 0);
    }
}
