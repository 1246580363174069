// Real `caravan-server` and real `caravan` processes: devices record offline, edit and delete
// the same records, sync in seeded random orders, and must converge.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

#include <algorithm>

#include "caravan/sync/agent/sync_lock.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

json show(const Laptop& l, const std::string& id) {
    return l.must_json({"consult", "show", id});
}

// Every laptop syncs once, in an order drawn from `rng`; failures are not expected here.
void sync_round(std::vector<Laptop*>& laptops, std::mt19937& rng) {
    std::shuffle(laptops.begin(), laptops.end(), rng);
    for (Laptop* l : laptops) {
        l->must_sync();
    }
}

void converge(std::vector<Laptop*> laptops, std::mt19937& rng) {
    // Round one carries every outbox to the server; round two carries the server to everyone.
    sync_round(laptops, rng);
    sync_round(laptops, rng);
}

void field_work_scenario(int devices, unsigned seed) {
    TempDir dir;
    Server server(dir / "server");
    std::mt19937 rng(seed);
    std::vector<std::unique_ptr<Laptop>> owned;
    std::vector<Laptop*> laptops;
    for (int i = 0; i < devices; ++i) {
        owned.push_back(std::make_unique<Laptop>(dir / ("laptop" + std::to_string(i) + ".db")));
        // The last of several devices is the coordinator: the same scope here, since all the
        // records are in one region.
        bool coordinator = devices > 2 && i == devices - 1;
        owned.back()->setup(server, "Lawyer " + std::to_string(i),
                            coordinator ? "coordinator" : "lawyer");
        laptops.push_back(owned.back().get());
    }
    Laptop& a = *laptops[0];
    Laptop& b = *laptops[1];

    // T0: a sets up the village, a visit and two consultations; everyone syncs.
    a.start_field_day();
    std::string shared = add_consultation(a, "бастапқы сұрақ");
    std::string doomed = add_consultation(a, "жойылатын жазба");
    converge(laptops, rng);

    // T1: offline, in parallel: a and b edit the same field of `shared`; b deletes `doomed`
    // while a edits it; every device records its own visit.
    a.must({"consult", "edit", shared, "--question", "a өзгертті"});
    b.must({"consult", "edit", shared, "--question", "b өзгертті", "--outcome", "referred"});
    a.must({"consult", "edit", doomed, "--advice", "a толықтырды"});
    b.must({"consult", "rm", doomed});
    for (std::size_t i = 0; i < laptops.size(); ++i) {
        Laptop& l = *laptops[i];
        l.must({"visit", "start", "--village", "Қызылжар", "--date",
                "2024-05-1" + std::to_string(5 + i % 4)});
        add_consultation(l, "құрылғы " + std::to_string(i) + " сұрағы");
        l.must({"attend", "add", "--gender", "male", "--age", "59+", "--category", "older",
                "--count", std::to_string(3 + i)});
    }

    // T2: sync in random orders until everyone has seen everything.
    converge(laptops, rng);

    std::vector<const Laptop*> all(laptops.begin(), laptops.end());
    require_exactly_once(server, all);
    require_converged(all);

    // Per-field last-writer-wins: whichever edit of `shared`'s question won, it won everywhere;
    // b's outcome (edited by b alone) is kept whatever happened to the question.
    json s0 = show(*laptops[0], shared);
    REQUIRE(s0["outcome"] == "referred");
    for (const Laptop* l : all) {
        REQUIRE(show(*l, shared)["question"] == s0["question"]);
    }
    // The overwritten value is kept and listed as a conflict on every device.
    for (const Laptop* l : all) {
        json conflicts = l->must_json({"conflicts"});
        REQUIRE(conflicts.size() >= 1);
    }
}

} // namespace

TEST_CASE("e2e sync: two devices edit the same consultation offline, one deletes what the other "
          "edits, they converge and verify agrees",
          "[e2e]") {
    for (unsigned seed : {1u, 2u}) {
        DYNAMIC_SECTION("seed " << seed) {
            field_work_scenario(2, seed);
        }
    }
}

TEST_CASE("e2e sync: five devices (four lawyers, one coordinator) record offline and sync in "
          "random orders, every projection is identical and verify agrees",
          "[e2e]") {
    field_work_scenario(5, 20241124);
}

TEST_CASE("e2e sync: an edit made after seeing another edit wins, whatever the device clocks say",
          "[e2e]") {
    TempDir dir;
    Server server(dir / "server");
    constexpr long long day_ms = 24LL * 3600 * 1000;
    // Fast by 20 hours: within the one-day bound on clocks ahead of the server's (a laptop
    // more than a day fast has its events refused as clock_ahead, docs/sync-algorithm.md 2.2.1).
    Laptop ahead(dir / "ahead.db", {{"CARAVAN_CLOCK_SKEW_MS", std::to_string(20 * day_ms / 24)}});
    Laptop behind(dir / "behind.db", {{"CARAVAN_CLOCK_SKEW_MS", std::to_string(-2 * day_ms)}});
    ahead.setup(server, "Ahead");
    behind.setup(server, "Behind");

    ahead.start_field_day();
    std::string id = add_consultation(ahead, "алғашқы");
    ahead.must({"consult", "edit", id, "--question", "ahead wrote this"});
    ahead.must_sync();
    behind.must_sync();

    // `behind` has seen ahead's edit; its clock is almost three days earlier, yet its edit is
    // later.
    behind.must({"consult", "edit", id, "--question", "behind wrote this after seeing it"});
    behind.must_sync();
    ahead.must_sync();
    REQUIRE(show(ahead, id)["question"] == "behind wrote this after seeing it");
    REQUIRE(show(behind, id)["question"] == "behind wrote this after seeing it");

    // And the other way round.
    ahead.must({"consult", "edit", id, "--question", "ahead again, after seeing behind's"});
    ahead.must_sync();
    behind.must_sync();
    REQUIRE(show(behind, id)["question"] == "ahead again, after seeing behind's");
    require_converged({&ahead, &behind});
}

TEST_CASE_METHOD(
    OneLaptop, "e2e sync: sync runs one at a time per database, log and status tell what happened",
    "[e2e]") {
    a.must({"village", "add", "Қызылжар", "--region", k_region});

    SECTION("a second sync while one runs exits 3") {
        // Hold the lock the way a running sync does.
        auto lock = ok(sync::agent::SyncLock::acquire(a.db(), false));
        ProcessResult r = a.sync();
        REQUIRE(r.exit_code == 3);
        REQUIRE(r.err.find("another sync") != std::string::npos);
    }
    SECTION("sync log and --json summary") {
        json summary = json::parse(a.must({"sync", "--json"}));
        REQUIRE(summary["result"] == "ok");
        REQUIRE(summary["pushed"].get<int>() >= 2);
        REQUIRE(summary["requests"].get<int>() >= 2);
        json again = json::parse(a.must({"sync", "--json"}));
        REQUIRE(again["requests"] == 1); // nothing to do costs one request
        json log = a.must_json({"sync", "log"});
        REQUIRE(log.size() == 2);
        REQUIRE(log[0]["result"] == "ok");
        std::string human = a.must({"sync", "log"});
        REQUIRE(human.find("pushed") != std::string::npos);
    }
    SECTION("offline: exit 4, nothing lost, and the next sync delivers") {
        Laptop offline = a;
        offline.use_server_url("http://127.0.0.1:1");
        ProcessResult r = offline.sync({"--attempts", "2"});
        REQUIRE(r.exit_code == 4);
        json st = a.must_json({"status"});
        REQUIRE(st["unsynced"].get<int>() >= 2);
        a.use_server_url(server.url());
        a.must_sync();
        REQUIRE(a.must_json({"status"})["unsynced"] == 0);
    }
    SECTION("the token is never printed") {
        auto engine = ok(client::Engine::open(a.db()));
        std::string token =
            ok(sync::agent::AgentState(engine.component_storage()).enrollment())->token;
        for (auto args : std::vector<std::vector<std::string>>{
                 {"sync"}, {"sync", "--json"}, {"sync", "log"}, {"status"}, {"status", "--json"}}) {
            ProcessResult r = a.run(args);
            REQUIRE(r.out.find(token) == std::string::npos);
            REQUIRE(r.err.find(token) == std::string::npos);
        }
    }
}

TEST_CASE("e2e sync: a record the server refuses is listed by `caravan status`, and later records "
          "still flow",
          "[e2e]") {
    TempDir dir;
    Server server(dir / "server");
    Laptop a(dir / "a.db");
    // A village in a region outside this lawyer's scope, added before the device was enrolled
    // (once enrolled, the device itself refuses it): the server refuses it.
    a.must({"init", "--lawyer", "Арнат", "--region", k_region});
    a.must({"village", "add", "Алыс ауыл", "--region", "Абай обл."});
    a.must({"enroll", "--server", server.url(), "--code", server.code("Арнат", {k_region})});
    a.must({"village", "add", "Қызылжар", "--region", k_region});
    ProcessResult r = a.sync();
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    REQUIRE(r.out.find("rejected 1") != std::string::npos);
    json st = a.must_json({"status"});
    REQUIRE(st["unsynced"] == 0);
    REQUIRE(st["quarantined"].size() == 1);
    REQUIRE(st["quarantined"][0]["code"] == "out_of_scope");
    std::string human = a.must({"status"});
    REQUIRE(human.find("refused by the server") != std::string::npos);
    // The next record goes through.
    a.must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    a.must_sync();
    REQUIRE(a.must_json({"status"})["unsynced"] == 0);
}

TEST_CASE_METHOD(OneLaptop,
                 "e2e sync: what a device pushed does not come back in its pull (own_upto), but a "
                 "restored copy gets back what it lost",
                 "[e2e]") {
    a.start_field_day();
    a.must_sync();
    a.must({"backup", (dir / "backup.db").string()});
    std::mt19937 rng(5);
    for (int i = 0; i < 40; ++i) {
        std::string advice; // text that does not compress away
        for (int c = 0; c < 2000; ++c) {
            advice += static_cast<char>('a' + rng() % 26);
        }
        a.must({"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                "сұрақ " + std::to_string(i), "--advice", advice});
    }
    json summary = json::parse(a.must({"sync", "--json"}));
    REQUIRE(summary["pushed"] == 40);
    // 40 × 2 KB went up; the echo would bring as much back down.
    INFO(summary.dump());
    CHECK(summary["bytes_down"].get<std::int64_t>() * 4 < summary["bytes_up"].get<std::int64_t>());

    // A copy from before those 40 (same device id, acknowledged only up to the backup) pulls
    // them back: own_upto never hides what a device lacks.
    Laptop restored(dir / "backup.db");
    restored.must_sync();
    CHECK(restored.must_json({"consult", "list"}).size() == 40);
    CHECK(restored.fingerprint() == a.fingerprint());
}

TEST_CASE_METHOD(
    OneLaptop,
    "e2e sync: after the server is restored from a backup, a device resends what it lost, "
    "relearns every position and verify agrees",
    "[e2e]") {
    CARAVAN_EMBEDDED_STORE_ONLY("backup and restore of the SQLite file (PostgreSQL: pg_dump)");
    a.start_field_day();
    auto consult = [&](int i) {
        a.must({"consult", "add", "--gender", "male", "--age", "59+", "--category", "older",
                "--topic", "benefits", "--outcome", "advice", "--question",
                "сұрақ " + std::to_string(i)});
    };
    consult(1);
    a.must_sync();
    ProcessResult backup = run_process({binary("caravan-server").string(), "backup", "--data",
                                        server.data().string(), (dir / "server.bak").string()});
    INFO(describe(backup));
    REQUIRE(backup.exit_code == 0);
    consult(2);
    consult(3);
    a.must_sync();

    server.kill9();
    ProcessResult restore = run_process({binary("caravan-server").string(), "restore", "--data",
                                         server.data().string(), (dir / "server.bak").string()});
    INFO(describe(restore));
    REQUIRE(restore.exit_code == 0);
    server.start();
    a.use_server_url(server.url());
    consult(4);
    a.must_sync();
    a.must_sync();
    require_exactly_once(server, {&a});
    ProcessResult verify = a.sync({"--verify", "--json"});
    INFO(describe(verify));
    REQUIRE(verify.exit_code == 0);
    CHECK(json::parse(verify.out)["verify"]["agree"] == true);
    Laptop b(dir / "b.db");
    b.setup(server, "Бекзат");
    b.must_sync();
    a.must_sync(); // learns b's device record
    CHECK(b.fingerprint() == a.fingerprint());
}
