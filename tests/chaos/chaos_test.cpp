// The chaos run (issue #5): several devices record, edit and delete; a fault proxy drops,
// truncates, delays and duplicates their traffic; `caravan` processes are killed with SIGKILL
// while recording and while syncing, and the server while it serves. With a fixed seed and a
// bounded number of rounds (`--rounds`, default small for CI; `--rounds 2000` for a long run).
// At the end, with faults off, everyone syncs and the run proves:
// - every event a device holds (everything it committed) is on the server exactly once, with
//   the content the device holds;
// - every device's projection equals the others' and the server's, and `sync --verify` agrees;
// - `PRAGMA integrity_check` passes on every database.
// A wild device takes part: its laptop's wall clock stands ten years ahead, so every event it
// records is refused (clock_ahead) and stays quarantined on it; and a hostile identity pushes,
// with its own token, events whose clocks are 7fffffffffffffff, 8000000000000000,
// ffffffffffffffff or two days ahead. The honest devices must keep syncing, and the checks
// above hold for them (exactly-once also for the wild laptop, whose events are on the server
// once, as refused ones); no honest event carries a clock beyond a day ahead of real time.
// It prints the rounds, kills and faults it survived.
// The same on PostgreSQL ("chaos, postgresql"): two server processes on one database, each
// behind its own faulty link, devices switching between them, one process killed while a device
// pushes to it and restarted; then exactly once, convergence, verify, the same export from
// both, and `check` on both.
#include "chaos_options.hpp"
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"
#include "server_test_support.hpp"

#include <iostream>

#include "caravan/client/hlc.hpp"
#include "caravan/client/projector.hpp"
#include "fault_proxy.hpp"
#include "pg_cluster.hpp"

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
    auto db = open_server_db(server);
    client::Projector projector(db);
    return ok(projector.fingerprint());
}

// An identity enrolled by hand that pushes events with hostile clocks under its own token,
// straight to the server (each push must be answered 200, the hostile event refused alone).
class HostileClock {
  public:
    explicit HostileClock(Server& server)
        : m_server(server), m_id(client::uuid_v7(client::system_now_ms())) {
        test::server::Http http(m_server.port());
        test::server::Reply r = http.post(
            "/v1/enroll", "",
            json{{"code", server.code("Hostile", {k_region})}, {"device_id", m_id}}.dump());
        INFO(r.raw);
        REQUIRE(r.status == 200);
        m_token = r.body["token"].get<std::string>();
    }
    // Pushes one event with the round's hostile clock and one honest one after it.
    void push(int round) {
        static const std::string wild[] = {"7fffffffffffffff", "8000000000000000",
                                           "ffffffffffffffff", ""};
        std::string hostile = wild[round % 4];
        if (hostile.empty()) {
            hostile = client::Hlc::from_parts(client::system_now_ms() + 2 * 86400000LL, 0).to_hex();
        }
        const std::string honest =
            client::Hlc::from_parts(client::system_now_ms() - 3600000, m_seq + 2).to_hex();
        json events = json::array({event(++m_seq, hostile), event(++m_seq, honest)});
        test::server::Reply r =
            // A new connection: the server may have restarted on another port since last round.
            test::server::Http(m_server.port())
                .post("/v1/push", m_token, json{{"device_id", m_id}, {"events", events}}.dump());
        INFO(r.raw);
        REQUIRE(r.status == 200);
        REQUIRE(r.body["results"][0]["code"] == "clock_ahead");
        ++m_refused;
    }
    [[nodiscard]] int refused() const { return m_refused; }

  private:
    json event(std::int64_t seq, const std::string& hlc) const {
        return json{
            {"device_id", m_id},
            {"seq", seq},
            {"hlc", hlc},
            {"entity_type", "device"},
            {"entity_id", m_id},
            {"op", seq == 1 ? "create" : "update"},
            {"payload",
             {{"fields", {{"lawyer", "Hostile"}, {"region", k_region}, {"deleted", false}}}}},
            {"schema_version", 1}};
    }
    Server& m_server;
    std::string m_id;
    std::string m_token;
    std::int64_t m_seq = 0;
    int m_refused = 0;
};

// No own event of an honest laptop carries a clock beyond a day ahead of real time.
void require_sane_clocks(const Laptop& laptop) {
    const std::int64_t ceiling = client::system_now_ms() + client::Hlc::k_max_lead_ms;
    for (const auto& [seq, e] : laptop.own_events()) {
        INFO(laptop.db() << " seq " << seq);
        REQUIRE(e.hlc > 0);
        REQUIRE(client::Hlc{e.hlc}.wall_ms() <= ceiling);
    }
}

// One device's turn: it records (mostly adds, some edits and deletes, some recordings killed),
// then syncs through the faulty link, sometimes killed part way.
void record_and_sync(Laptop& laptop, std::mt19937& rng, int round, const fs::path& scratch,
                     Tally& tally) {
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    // Record: mostly adds, some edits and deletes of any consultation the device sees
    // (its own or another's: concurrent edits and delete-vs-edit happen).
    int what = static_cast<int>(rng() % 100);
    if (what < 15) {
        bool killed = run_and_kill(laptop, scratch, consult_add_args(rng, round),
                                   std::chrono::milliseconds(rng() % 40));
        tally.records_killed += killed;
    } else if (what < 30) {
        auto ids = consultation_ids(laptop);
        if (!ids.empty()) {
            const std::string& id = ids[rng() % ids.size()];
            if (chance(70)) {
                laptop.must({"consult", "edit", id, "--outcome", chance(50) ? "case" : "advice"});
                ++tally.edits;
            } else {
                laptop.must({"consult", "rm", id});
                ++tally.deletes;
            }
        }
    } else if (what < 45) {
        laptop.must({"attend", "add", "--gender", "female", "--age", "46-58", "--category", "older",
                     "--count", std::to_string(1 + rng() % 9)});
        ++tally.records;
    } else {
        laptop.must(consult_add_args(rng, round));
        ++tally.records;
    }
    // Sync: through the faulty link, sometimes killed part way.
    if (chance(25)) {
        tally.syncs_killed +=
            run_and_kill(laptop, scratch,
                         {"sync", "--retry-base-ms", "5", "--retry-cap-ms", "50", "--attempts", "2",
                          "--batch-bytes", "2048", "--page-size", "8"},
                         std::chrono::milliseconds(rng() % 400));
    } else {
        ProcessResult r =
            laptop.sync({"--attempts", "2", "--batch-bytes", "2048", "--page-size", "8"});
        INFO("round " << round << ": " << describe(r));
        // Failing under faults is allowed; failing badly (a crash, exit 1) is not.
        REQUIRE((r.exit_code == 0 || r.exit_code == 3 || r.exit_code == 4 || r.exit_code == 6));
        ++tally.syncs;
        tally.syncs_failed += r.exit_code != 0;
    }
}

// The faults of the link, drawn from `seed`.
Faults chaos_faults(std::uint64_t seed) {
    Faults faults;
    faults.drop_request = 0.06;
    faults.drop_response = 0.08;
    faults.truncate_response = 0.06;
    faults.duplicate_request = 0.08;
    faults.error_500 = 0.03;
    faults.error_503 = 0.03;
    faults.delay = std::chrono::milliseconds(5);
    faults.seed = seed;
    return faults;
}

// `server` killed with SIGKILL while `laptop` syncs through `proxy` to it, and restarted (the
// proxy then forwards to its new port). The sync must end by itself.
void kill_server_mid_sync(Server& server, FaultProxy& proxy, const Laptop& laptop,
                          std::mt19937& rng, const fs::path& scratch) {
    std::vector<std::string> argv = {
        binary("caravan").string(), "--db", laptop.db().string(), "sync", "--retry-base-ms", "5",
        "--retry-cap-ms",           "50",   "--attempts",         "2"};
    BackgroundProcess sync(argv, laptop.env(), scratch / "sync.out", scratch / "sync.err");
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    server.restart();
    proxy.set_upstream(server.port());
    if (!sync.wait(std::chrono::seconds(60))) {
        sync.kill_now(9);
        FAIL("a sync did not end within 60 s after the server was killed");
    }
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
    Laptop wild(dir / "wild.db",
                {{"CARAVAN_CLOCK_SKEW_MS", std::to_string(10LL * 365 * 24 * 3600 * 1000)}});
    wild.setup(server, "Wild clock");
    wild.use_server_url(proxy.url());
    HostileClock hostile(server);

    proxy.set_faults(chaos_faults(options.seed));

    Tally tally;
    const fs::path scratch = dir / "scratch";
    fs::create_directories(scratch);
    auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
    for (int round = 0; round < options.rounds; ++round) {
        for (auto& l : laptops) {
            record_and_sync(*l, rng, round, scratch, tally);
        }
        // The wild laptop records a village (its clock ten years ahead) and syncs under faults;
        // the hostile identity pushes a hostile clock.
        wild.must({"village", "add", "Алыс " + std::to_string(round), "--region", k_region});
        ProcessResult w = wild.sync({"--attempts", "2", "--batch-bytes", "2048"});
        INFO("wild, round " << round << ": " << describe(w));
        REQUIRE((w.exit_code == 0 || w.exit_code == 3 || w.exit_code == 4 || w.exit_code == 6));
        hostile.push(round);
        if (chance(20)) {
            // The server killed while a device is syncing through the proxy.
            kill_server_mid_sync(server, proxy, *laptops[rng() % laptops.size()], rng, scratch);
            ++tally.server_kills;
        }
    }

    ProxyStats stats = proxy.stats();
    proxy.set_faults({});
    settle(server, laptops);
    CHECK(server_fingerprint(server) == laptops.front()->fingerprint());
    // The wild laptop: everything it recorded is on the server once, refused for its clock.
    wild.must_sync();
    std::vector<const Laptop*> everyone = {&wild};
    for (auto& l : laptops) {
        require_sane_clocks(*l);
        everyone.push_back(l.get());
    }
    require_exactly_once(server, everyone);
    {
        auto db = open_server_db(server);
        auto stmt = ok(db.prepare("SELECT count(*) FROM events WHERE device_id = ?"));
        stmt.bind(1, wild.device_id());
        REQUIRE(ok(stmt.step()));
        CHECK(stmt.column_int(0) == 0);
    }
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
              << " duplicated, " << stats.errors
              << " 500/503; wild clock: " << wild.own_events().size() << " events refused, "
              << hostile.refused() << " hostile clocks refused\n";
    if (options.rounds >= 4) {
        // The run must actually have exercised the faults it claims to survive.
        CHECK(stats.dropped_responses + stats.truncated + stats.dropped_requests > 0);
        CHECK(tally.server_kills + tally.syncs_killed + tally.records_killed > 0);
    }
}

TEST_CASE("chaos, postgresql: two server processes on one database behind faulty links, one "
          "killed mid-push and restarted, devices syncing through either: nothing lost, nothing "
          "stored twice, everyone converges, check passes",
          "[chaos][postgresql]") {
    CARAVAN_REQUIRE_POSTGRES();
    const chaos::Options& options = chaos::options();
    std::mt19937 rng(static_cast<std::mt19937::result_type>(options.seed));
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    Server a(dir / "a", url);
    Server b(dir / "b", url);
    FaultProxy to_a(a.port());
    FaultProxy to_b(b.port());
    auto laptops = field_team(dir.path(), a, to_a.url(), options.devices);
    to_a.set_faults(chaos_faults(options.seed));
    to_b.set_faults(chaos_faults(options.seed + 1));

    Tally tally;
    int switches = 0;
    const fs::path scratch = dir / "scratch";
    fs::create_directories(scratch);
    for (int round = 0; round < options.rounds; ++round) {
        for (auto& l : laptops) {
            // A load balancer's choice: this round's requests go to either process.
            const bool via_b = rng() % 2 == 0;
            l->use_server_url(via_b ? to_b.url() : to_a.url());
            switches += via_b;
            record_and_sync(*l, rng, round, scratch, tally);
        }
        // Every other round one process is killed while a device pushes to it: the device has
        // just recorded, so its sync starts with a push.
        if (round % 2 == 0) {
            const bool kill_b = rng() % 2 == 0;
            Laptop& l = *laptops[rng() % laptops.size()];
            l.use_server_url(kill_b ? to_b.url() : to_a.url());
            l.must(consult_add_args(rng, round));
            ++tally.records;
            kill_server_mid_sync(kill_b ? b : a, kill_b ? to_b : to_a, l, rng, scratch);
            ++tally.server_kills;
        }
    }

    ProxyStats stats_a = to_a.stats();
    ProxyStats stats_b = to_b.stats();
    to_a.set_faults({});
    to_b.set_faults({});
    settle(a, laptops); // exactly once, convergence and `sync --verify` on every device
    {
        auto store = inspect(a);
        CHECK(ok(client::Projector(store->database()).fingerprint()) ==
              laptops.front()->fingerprint());
    }
    // Both processes export the same bytes, and `check` passes on each one's cache.
    std::string journal[2];
    int i = 0;
    for (const Server* server : {&a, &b}) {
        ProcessResult exported = run_process(
            server->with_store({binary("caravan-server").string(), "export", "journal", "--all",
                                "--format", "csv", "--data", server->data().string()}));
        INFO(describe(exported));
        REQUIRE(exported.exit_code == 0);
        journal[i++] = exported.out;
        ProcessResult checked = run_process(server->with_store(
            {binary("caravan-server").string(), "check", "--data", server->data().string()}));
        INFO(describe(checked));
        CHECK(checked.exit_code == 0);
    }
    CHECK(journal[0] == journal[1]);
    CHECK(journal[0].size() > 100);

    std::cout << "chaos, postgresql: seed " << options.seed << ", " << options.rounds << " rounds, "
              << options.devices << " devices on two server processes: " << tally.records
              << " records, " << tally.edits << " edits, " << tally.deletes << " deletes; "
              << switches << " of " << options.rounds * options.devices
              << " turns through the second process; " << tally.server_kills
              << " server processes killed while a device synced; " << tally.records_killed
              << " recordings and " << tally.syncs_killed << " syncs killed; " << tally.syncs
              << " syncs under faults (" << tally.syncs_failed
              << " failed); proxies: " << stats_a.requests + stats_b.requests << " requests, "
              << stats_a.dropped_responses + stats_b.dropped_responses << " dropped responses, "
              << stats_a.truncated + stats_b.truncated << " truncated, "
              << stats_a.duplicated + stats_b.duplicated << " duplicated\n";
    CHECK(tally.server_kills > 0);
}
