// Two `caravan-server` processes on one PostgreSQL database
// (docs/decisions/0006-postgresql-store.md): every promise of the protocol holds across them,
// because it is kept by the database, not by a process. Also `check --store` on a healthy and on
// damaged stores, and the cache files a new epoch leaves.

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "caravan/client/search_index.hpp"
#include "e2e_support.hpp"
#include "pg_cluster.hpp"
#include "server_test_support.hpp"

namespace {

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::server;
namespace fs = std::filesystem;

// Two serve processes, each with its own data directory (its cache), on one fresh database.
struct TwoServers {
    TempDir dir;
    std::string url = PgCluster::shared().database();
    e2e::Server a{dir / "a", url};
    e2e::Server b{dir / "b", url};
};

Device enroll_at(e2e::Server& server, const std::string& code) {
    Device d{new_id(), ""};
    Http http(server.port());
    Reply r =
        http.post("/v1/enroll", "",
                  json{{"code", code}, {"device_id", d.id}, {"lawyer", "Test Lawyer"}}.dump());
    INFO(r.raw);
    REQUIRE(r.status == 200);
    d.token = r.body["token"].get<std::string>();
    return d;
}

ProcessResult check_at(const e2e::Server& server, bool as_json = false) {
    std::vector<std::string> argv = {binary("caravan-server").string(), "check", "--data",
                                     server.data().string()};
    if (as_json) {
        argv.push_back("--json");
    }
    return run_process(server.with_store(argv), {}, {}, std::chrono::seconds(120));
}

std::vector<std::string> fates(const Reply& r) {
    std::vector<std::string> list;
    for (const json& e : r.body["results"]) {
        list.push_back(e["fate"].get<std::string>() + "@" +
                       std::to_string(e.value("server_seq", std::int64_t{0})));
    }
    return list;
}

} // namespace

TEST_CASE("postgresql, two processes: a push retried on the other process is stored once, in"
          " order, with the same answers",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoServers s;
    Device d = enroll_at(s.a, s.a.code("Test Lawyer", {k_region_a}));
    Http a(s.a.port());
    Http b(s.b.port());
    Events ev(d.id);
    std::vector<storage::Event> first;
    for (int i = 0; i < 5; ++i) {
        first.push_back(ev.village(new_id(), "Village " + std::to_string(i), k_region_a));
    }
    Reply at_a = a.push(d.token, batch(d.id, first));
    REQUIRE(at_a.status == 200);
    CHECK(at_a.body["acked_seq"] == 5);
    // The answer was lost; the device retries and the load balancer picks the other process.
    Reply at_b = b.push(d.token, batch(d.id, first));
    REQUIRE(at_b.status == 200);
    CHECK(at_b.body["acked_seq"] == 5);
    std::vector<std::string> answered = fates(at_a);
    std::vector<std::string> again = fates(at_b);
    REQUIRE(again.size() == 5);
    for (std::size_t i = 0; i < again.size(); ++i) {
        CHECK(answered[i] == "accepted@" + std::to_string(i + 1));
        CHECK(again[i] == "duplicate@" + std::to_string(i + 1));
    }
    // A gap is refused by either process; the next seq accepted by either.
    storage::Event sixth = ev.village(new_id(), "Village 6", k_region_a);
    storage::Event seventh = ev.village(new_id(), "Village 7", k_region_a);
    Reply gap = b.push(d.token, batch(d.id, {seventh}));
    CHECK(gap.status == 409);
    CHECK(gap.code() == "sequence_gap");
    CHECK(gap.body["acked_seq"] == 5);
    REQUIRE(b.push(d.token, batch(d.id, {sixth})).status == 200);
    Reply last = a.push(d.token, batch(d.id, {sixth, seventh}));
    REQUIRE(last.status == 200);
    CHECK(fates(last) == std::vector<std::string>{"duplicate@6", "accepted@7"});

    // Both processes hand out the same feed: each event once, in the device's order.
    for (Http* http : {&a, &b}) {
        std::vector<storage::Event> feed = pull_all(*http, d.token);
        REQUIRE(feed.size() == 7);
        for (std::size_t i = 0; i < feed.size(); ++i) {
            CHECK(feed[i].seq == static_cast<std::int64_t>(i + 1));
            CHECK(feed[i].server_seq == static_cast<std::int64_t>(i + 1));
        }
    }
    Reply va = a.get("/v1/verify", d.token);
    Reply vb = b.get("/v1/verify", d.token);
    REQUIRE(va.status == 200);
    CHECK(va.body == vb.body);
}

TEST_CASE("postgresql, two processes: concurrent pushers and pullers never see a hole in the"
          " feed",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoServers s;
    constexpr int k_pushers = 6;
    constexpr int k_batches = 12;
    constexpr int k_per_batch = 5;
    std::vector<Device> devices;
    for (int i = 0; i < k_pushers; ++i) {
        devices.push_back(enroll_at(i % 2 ? s.b : s.a, s.a.code("Test Lawyer", {k_region_a})));
    }
    Device coordinator = enroll_at(s.b, s.b.code("Coordinator", {}, "coordinator"));

    std::atomic<int> failures = 0;
    std::atomic<bool> pushing = true;
    std::vector<std::thread> threads;
    for (int p = 0; p < k_pushers; ++p) {
        threads.emplace_back([&, p] {
            Http http[2] = {Http(s.a.port()), Http(s.b.port())};
            Events ev(devices[p].id);
            for (int round = 0; round < k_batches; ++round) {
                std::vector<storage::Event> events;
                for (int i = 0; i < k_per_batch; ++i) {
                    events.push_back(ev.village(new_id(), "V", k_region_a));
                }
                // Alternate processes, as a load balancer would.
                Reply r =
                    http[(p + round) % 2].push(devices[p].token, batch(devices[p].id, events));
                if (r.status != 200) {
                    ++failures;
                }
            }
        });
    }
    // Pullers follow the feed while it grows, each alternating processes page by page: a
    // position committed below a cursor already passed would be missing from what they saw.
    std::vector<std::vector<std::int64_t>> seen(2);
    std::vector<std::thread> pullers;
    for (int q = 0; q < 2; ++q) {
        pullers.emplace_back([&, q] {
            Http http[2] = {Http(s.a.port()), Http(s.b.port())};
            std::int64_t after = 0;
            bool last_round = false;
            for (int page = 0; page < 100000; ++page) {
                const bool done_pushing = !pushing.load();
                Reply r = http[(q + page) % 2].get(
                    "/v1/pull?after=" + std::to_string(after) + "&limit=7", coordinator.token);
                if (r.status != 200) {
                    ++failures;
                    return;
                }
                for (const json& e : r.body["events"]) {
                    seen[q].push_back(e["server_seq"].get<std::int64_t>());
                }
                after = r.body["next_after"].get<std::int64_t>();
                if (!r.body["more"].get<bool>()) {
                    if (last_round) {
                        return;
                    }
                    // One more full pass once every push has returned.
                    last_round = done_pushing;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    pushing = false;
    for (auto& t : pullers) {
        t.join();
    }
    REQUIRE(failures == 0);
    const std::int64_t total = k_pushers * k_batches * k_per_batch;
    for (const auto& positions : seen) {
        REQUIRE(positions.size() == static_cast<std::size_t>(total));
        for (std::size_t i = 0; i < positions.size(); ++i) {
            REQUIRE(positions[i] == static_cast<std::int64_t>(i + 1));
        }
    }
}

TEST_CASE("postgresql, two processes: a code is used once and a revocation holds, whichever"
          " process is asked",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoServers s;
    // One code, two devices racing for it on the two processes.
    for (int round = 0; round < 3; ++round) {
        const std::string code = s.a.code("Test Lawyer", {k_region_a});
        std::atomic<int> won = 0;
        std::atomic<int> refused = 0;
        std::vector<std::thread> racers;
        for (e2e::Server* server : {&s.a, &s.b, &s.a, &s.b}) {
            racers.emplace_back([&, server] {
                Http http(server->port());
                Reply r = http.post(
                    "/v1/enroll", "",
                    json{{"code", code}, {"device_id", new_id()}, {"lawyer", "L"}}.dump());
                if (r.status == 200) {
                    ++won;
                } else if (r.code() == "invalid_code") {
                    ++refused;
                }
            });
        }
        for (auto& t : racers) {
            t.join();
        }
        CHECK(won == 1);
        CHECK(refused == 3);
    }

    Device d = enroll_at(s.b, s.b.code("Test Lawyer", {k_region_a}));
    Http a(s.a.port());
    Http b(s.b.port());
    Events ev(d.id);
    REQUIRE(a.push(d.token, batch(d.id, {ev.village(new_id(), "V", k_region_a)})).status == 200);
    ProcessResult revoked =
        run_process(s.a.with_store({binary("caravan-server").string(), "devices", "revoke", d.id,
                                    "--data", (s.dir / "operator").string()}));
    INFO(e2e::describe(revoked));
    REQUIRE(revoked.exit_code == 0);
    for (Http* http : {&a, &b}) {
        Reply r = http->push(d.token, batch(d.id, {ev.village(new_id(), "W", k_region_a)}));
        CHECK(r.status == 401);
        CHECK(r.code() == "device_revoked");
        CHECK(http->get("/v1/pull?after=0", d.token).code() == "device_revoked");
    }
}

TEST_CASE("postgresql, two processes: a rotation made through one process holds on the other",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoServers s;
    Device old = enroll_at(s.b, s.b.code("Test Lawyer", {k_region_a}));
    Http a(s.a.port());
    Http b(s.b.port());
    Events ev(old.id);
    REQUIRE(b.push(old.token, batch(old.id, {ev.village(new_id(), "V", k_region_a)})).status ==
            200);
    const std::string next = new_id();
    Reply first = rotate(a, old.token, old.id, next);
    REQUIRE(first.status == 200);
    // The old identity is refused by both processes, naming its successor.
    for (Http* http : {&a, &b}) {
        Reply push = http->push(old.token, batch(old.id, {ev.village(new_id(), "W", k_region_a)}));
        CHECK(push.status == 401);
        CHECK(push.code() == "device_rotated");
        CHECK(push.body["successor"] == next);
    }
    // The rotation's answer lost: asked again through the other process, a fresh token, and
    // only that one opens either process.
    Reply again = rotate(b, old.token, old.id, next);
    REQUIRE(again.status == 200);
    const std::string token = again.body["token"];
    CHECK(token != first.body["token"].get<std::string>());
    for (Http* http : {&a, &b}) {
        CHECK(http->get("/v1/status", first.body["token"]).status == 401);
        CHECK(http->get("/v1/status", token).status == 200);
    }
    Events fresh(next);
    Reply pushed = a.push(token, batch(next, {fresh.village(new_id(), "X", k_region_a)}));
    REQUIRE(pushed.status == 200);
    CHECK(pushed.body["results"][0]["fate"] == "accepted");
}

namespace {

// `caravan-server ARGS` on `server`'s store (its --data, and --store on PostgreSQL).
std::string operator_cli(const e2e::Server& server, std::vector<std::string> args) {
    std::vector<std::string> argv = {binary("caravan-server").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--data", server.data().string()});
    ProcessResult r = run_process(server.with_store(argv), {}, {}, std::chrono::seconds(120));
    INFO(e2e::describe(r));
    REQUIRE(r.exit_code == 0);
    return r.out;
}

} // namespace

TEST_CASE("postgresql: exports, reports, conflicts, verification and the feed are the embedded"
          " store's, byte for byte",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    e2e::Server embedded(dir / "sqlite", std::string());
    e2e::Server postgres(dir / "pg", PgCluster::shared().database());
    e2e::Server* servers[] = {&embedded, &postgres};

    // The same two lawyers' devices (a device chooses its id) and events on both servers.
    const std::string a_id = new_id();
    const std::string b_id = new_id();
    struct Tokens {
        std::string a, b, coordinator;
    };
    std::vector<Tokens> tokens;
    for (e2e::Server* server : servers) {
        Tokens t;
        for (auto [id, token] : {std::pair{&a_id, &t.a}, std::pair{&b_id, &t.b}}) {
            Http http(server->port());
            Reply r = http.post("/v1/enroll", "",
                                json{{"code", server->code("Test Lawyer", {k_region_a})},
                                     {"device_id", *id},
                                     {"lawyer", "Test Lawyer"}}
                                    .dump());
            REQUIRE(r.status == 200);
            *token = r.body["token"].get<std::string>();
        }
        t.coordinator = enroll_at(*server, server->code("Coordinator", {}, "coordinator")).token;
        tokens.push_back(t);
    }
    Events ea(a_id), eb(b_id);
    const std::string village = new_id(), visit = new_id();
    std::vector<storage::Event> a_first{ea.self("A", k_region_a),
                                        ea.village(village, "Ауыл «Жаңа»", k_region_a),
                                        ea.visit(visit, village)};
    std::vector<std::string> consultations;
    for (const char* gender : {"female", "male", "female"}) {
        consultations.push_back(new_id());
        a_first.push_back(ea.consultation(consultations.back(), visit, gender));
    }
    // Refused: outside the lawyer's regions.
    a_first.push_back(ea.village(new_id(), "Elsewhere", k_region_b));
    const storage::Event& created = a_first[3];
    const std::string base = client::version_of(created.hlc, a_id);
    auto edit = [&](Events& ev, const std::string& outcome, std::int64_t later_ms) {
        auto e = ev.make("consultation", consultations[0], {{"outcome", outcome}}, "update");
        e.payload = sync::canonical_payload(
            json{{"fields", {{"outcome", outcome}}}, {"base", {{"outcome", base}}}});
        e.hlc = created.hlc + (later_ms << 16);
        return e;
    };
    const storage::Event a_edit = edit(ea, "referred", 5000); // past the refused village's clock
    const storage::Event b_self = eb.self("B", k_region_a);
    const storage::Event b_edit = edit(eb, "document", 4500);
    std::vector<std::string> answers;
    for (std::size_t s = 0; s < 2; ++s) {
        Http http(servers[s]->port());
        std::string answered;
        for (const auto& [token, request] :
             {std::pair{tokens[s].a, batch(a_id, a_first)},
              std::pair{tokens[s].a, batch(a_id, {a_edit})},
              std::pair{tokens[s].b, batch(b_id, {b_self, b_edit})}}) {
            Reply r = http.push(token, request);
            REQUIRE(r.status == 200);
            answered += r.body["results"].dump();
        }
        answers.push_back(answered);
    }
    CHECK(answers[0] == answers[1]);
    CHECK_THAT(answers[1], Catch::Contains("out_of_scope"));

    auto both = [&](const std::function<std::string(std::size_t)>& read) {
        std::string first = read(0);
        std::string second = read(1);
        CHECK(first == second);
        return first;
    };
    for (const char* lang : {"kk", "ru", "en"}) {
        for (const char* format : {"csv", "json"}) {
            INFO(lang << " " << format);
            both([&](std::size_t s) {
                Http http(servers[s]->port());
                Reply r =
                    http.get(std::string("/v1/export/journal?format=") + format + "&lang=" + lang,
                             tokens[s].coordinator);
                REQUIRE(r.status == 200);
                return r.raw;
            });
        }
    }
    const std::string breakdown = both([&](std::size_t s) {
        Http http(servers[s]->port());
        Reply r = http.get("/v1/export/breakdown?lang=kk", tokens[s].coordinator);
        REQUIRE(r.status == 200);
        return r.raw;
    });
    CHECK_FALSE(breakdown.empty());
    const std::string conflicts = both([&](std::size_t s) {
        return operator_cli(*servers[s], {"conflicts", "--json"});
    });
    CHECK(json::parse(conflicts).size() == 1);
    both([&](std::size_t s) {
        return operator_cli(*servers[s], {"export", "journal", "--all", "--format", "csv"});
    });
    both([&](std::size_t s) {
        Http http(servers[s]->port());
        Reply r = http.get("/v1/verify", tokens[s].a);
        REQUIRE(r.status == 200);
        return r.raw;
    });
    both([&](std::size_t s) {
        Http http(servers[s]->port());
        std::string feed;
        for (const storage::Event& e : pull_all(http, tokens[s].coordinator)) {
            feed += e.device_id + "/" + std::to_string(e.seq) + "@" +
                    std::to_string(*e.server_seq) + "\n";
        }
        return feed;
    });
}

TEST_CASE("postgresql, two processes: wrong enrollment codes count against the address on every"
          " process",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoServers s;
    Http a(s.a.port());
    Http b(s.b.port());
    auto guess = [](Http& http) {
        return http.post(
            "/v1/enroll", "",
            json{{"code", "AAAA-BBBB-CCCC"}, {"device_id", new_id()}, {"lawyer", "L"}}.dump());
    };
    // The default limit is 10 wrong codes in 10 minutes per address: 6 here, 4 there.
    for (int i = 0; i < 6; ++i) {
        CHECK(guess(a).code() == "invalid_code");
    }
    for (int i = 0; i < 4; ++i) {
        CHECK(guess(b).code() == "invalid_code");
    }
    // B saw only 4 itself; the address is at the limit on both.
    for (Http* http : {&b, &a}) {
        Reply limited = guess(*http);
        CHECK(limited.status == 429);
        CHECK(limited.code() == "slow_down");
        CHECK(limited.body.value("retry_after", 0) >= 1);
    }
}

TEST_CASE("postgresql: once the schema exists, a server runs as a role with only the privileges"
          " docs/operations.md grants",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string owner_url = PgCluster::shared().database();
    {
        // The first start, as the owner, creates the schema.
        srv::StoreOptions o;
        o.cache_dir = dir / "owner-cache";
        REQUIRE(srv::Store::open_postgresql(std::make_shared<srv::pg::Pool>(owner_url, 1), o));
    }
    const std::string role = "server_" + std::to_string(::getpid()) + "_" +
                             owner_url.substr(owner_url.find("///") + 3,
                                              owner_url.find('?') - owner_url.find("///") - 3);
    auto owner = srv::pg::Connection::open(owner_url);
    REQUIRE(owner);
    // Role names cannot be parameters; this one is made of digits, letters and '_' only.
    REQUIRE(owner->run_script("CREATE ROLE " + role +
                              " LOGIN;"
                              "GRANT USAGE ON SCHEMA public TO " +
                              role +
                              ";"
                              "GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO " +
                              role +
                              ";"
                              "GRANT DELETE ON enroll_failures, login_failures, accounts,"
                              " account_sessions TO " +
                              role +
                              ";"
                              "REVOKE CREATE ON SCHEMA public FROM PUBLIC;"));
    std::string limited_url = owner_url;
    limited_url.replace(limited_url.find("user=caravan"), 12, "user=" + role);

    e2e::Server server(dir / "server", limited_url);
    Device d = enroll_at(server, server.code("Test Lawyer", {k_region_a}));
    Http http(server.port());
    Events ev(d.id);
    REQUIRE(http.push(d.token, batch(d.id, {ev.village(new_id(), "V", k_region_a)})).status == 200);
    CHECK(pull_all(http, d.token).size() == 1);
    // A wrong code is recorded (and old ones pruned) with the limited role too.
    Reply wrong = http.post("/v1/enroll", "",
                            json{{"code", "AAAA-BBBB-CCCC"}, {"device_id", new_id()}}.dump());
    CHECK(wrong.code() == "invalid_code");
    {
        // The dashboard's accounts, sessions, lockouts and audit log with the limited role too.
        srv::StoreOptions o;
        o.create = false;
        o.cache_dir = dir / "accounts-cache";
        auto store =
            srv::Store::open_postgresql(std::make_shared<srv::pg::Pool>(limited_url, 1), o);
        REQUIRE(store);
        srv::Accounts accounts((*store)->accounts(), [] { return k_day_ms; });
        REQUIRE(accounts.add("aigerim", srv::AccountRole::coordinator, {}, "a long passphrase"));
        auto verified = accounts.verify("aigerim", "a long passphrase");
        REQUIRE(verified);
        REQUIRE(verified->has_value());
        auto session = accounts.open_session(**verified);
        REQUIRE(session);
        CHECK(accounts.find_session(session->id, {}).value().has_value());
        CHECK(accounts.set_stale_hours("aigerim", 24));
        CHECK(accounts.record_login_failure("account:aigerim", 60000));
        CHECK(accounts.record_login_failure("account:aigerim", 60000));
        CHECK(accounts.login_wait_s("account:aigerim", 2, 60000).value() == 60);
        CHECK(accounts.audit("aigerim", "login", ""));
        CHECK(accounts.audit_log(10).value().size() == 1);
        CHECK(accounts.close_session(session->id));
        CHECK(accounts.set_password("aigerim", "another long passphrase"));
        CHECK(accounts.remove("aigerim"));
    }
    // It could not have created anything.
    auto limited = srv::pg::Connection::open(limited_url);
    REQUIRE(limited);
    CHECK_FALSE(limited->run_script("CREATE TABLE probe(x integer)"));
}

TEST_CASE("postgresql: migrate-store moves an embedded store, devices go on syncing without a"
          " resync and the exports are the same bytes",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    auto embedded = std::make_unique<e2e::Server>(dir / "sqlite", std::string());
    Device d = enroll_at(*embedded, embedded->code("Test Lawyer", {k_region_a}));
    Device boss = enroll_at(*embedded, embedded->code("Coordinator", {}, "coordinator"));
    Events ev(d.id);
    const std::string village = new_id(), visit = new_id();
    std::vector<storage::Event> events{
        ev.self("A", k_region_a), ev.village(village, "Ауыл", k_region_a), ev.visit(visit, village),
        ev.consultation(new_id(), visit), ev.village(new_id(), "Elsewhere", k_region_b)};
    Reply first;
    std::map<std::string, std::string> before;
    {
        Http http(embedded->port());
        first = http.push(d.token, batch(d.id, events));
        REQUIRE(first.status == 200);
        before["journal"] = http.get("/v1/export/journal?format=csv&lang=kk", boss.token).raw;
        before["verify"] = http.get("/v1/verify", d.token).raw;
        before["pull"] = http.get("/v1/pull?after=0", boss.token).raw;
    }
    // A dashboard account (its password's hash and the audit entry of its creation move too).
    ProcessResult added = run_process({binary("caravan-server").string(), "user", "add", "aigerim",
                                       "--role", "coordinator", "--region", k_region_a, "--data",
                                       embedded->data().string()},
                                      {}, "a long enough password\n");
    INFO(e2e::describe(added));
    REQUIRE(added.exit_code == 0);
    std::string hash_before;
    {
        auto db = storage::Database::open(embedded->data() / "server.db");
        REQUIRE(db);
        hash_before = db->query("SELECT password_hash FROM accounts WHERE name = 'aigerim'")
                          .one<std::string>()
                          .value()
                          .value_or("");
        REQUIRE_FALSE(hash_before.empty());
    }
    embedded->kill9();

    std::vector<std::string> migrate = {
        binary("caravan-server").string(), "migrate-store", "--from",
        embedded->data().string(),         "--to",          url};
    ProcessResult moved = run_process(migrate);
    INFO(e2e::describe(moved));
    REQUIRE(moved.exit_code == 0);
    CHECK_THAT(moved.out, Catch::Contains("migrated 4 events, 1 rejected events, 2 devices"));
    CHECK_THAT(moved.out, Catch::Contains("1 dashboard accounts and 1 audit entries"));
    {
        auto conn = srv::pg::Connection::open(url);
        REQUIRE(conn);
        auto rows = conn->exec("SELECT password_hash, role, regions FROM accounts");
        REQUIRE(rows);
        REQUIRE(rows->size() == 1);
        CHECK(rows->text(0, 0) == hash_before);
        CHECK(rows->text(0, 1) == "coordinator");
        CHECK_THAT(rows->text(0, 2), Catch::Contains(k_region_a));
        auto audit = conn->exec("SELECT account, action, detail FROM audit_log");
        REQUIRE(audit);
        REQUIRE(audit->size() == 1);
        CHECK(audit->text(0, 1) == "user_add");
        CHECK(audit->text(0, 2) == "aigerim");
    }
    // Into a store that holds anything: refused, nothing changed.
    ProcessResult again = run_process(migrate);
    CHECK(again.exit_code != 0);
    CHECK_THAT(again.err, Catch::Contains("not empty"));

    e2e::Server postgres(dir / "pg", url);
    ProcessResult checked = run_process({binary("caravan-server").string(), "check", "--store", url,
                                         "--data", (dir / "pg").string()});
    INFO(e2e::describe(checked));
    CHECK(checked.exit_code == 0);
    CHECK_THAT(checked.out, Catch::Contains("ok: 4 events, 1 rejected, 2 devices"));
    Http http(postgres.port());
    // Same tokens, same epoch, same positions: the device's cursor and queue still hold.
    CHECK(http.get("/v1/export/journal?format=csv&lang=kk", boss.token).raw == before["journal"]);
    CHECK(http.get("/v1/verify", d.token).raw == before["verify"]);
    CHECK(http.get("/v1/pull?after=0", boss.token).raw == before["pull"]);
    Reply retried = http.push(d.token, batch(d.id, events));
    REQUIRE(retried.status == 200);
    CHECK(retried.body["acked_seq"] == 5);
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(retried.body["results"][i]["fate"] == "duplicate");
        CHECK(retried.body["results"][i].value("server_seq", 0) ==
              first.body["results"][i].value("server_seq", 0));
    }
    Reply next = http.push(d.token, batch(d.id, {ev.consultation(new_id(), visit)}));
    REQUIRE(next.status == 200);
    CHECK(next.body["results"][0]["fate"] == "accepted");
    CHECK(next.body["results"][0]["server_seq"] == 5);
}

TEST_CASE("postgresql: check passes on a healthy store and names what is wrong on a damaged one",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    e2e::Server server(dir / "a", url);
    Device d = enroll_at(server, server.code("Test Lawyer", {k_region_a}));
    Http http(server.port());
    Events ev(d.id);
    const std::string village = new_id();
    std::vector<storage::Event> events{ev.village(village, "Ауыл", k_region_a),
                                       ev.village(new_id(), "Elsewhere", k_region_b),
                                       ev.village(new_id(), "Үшінші", k_region_a)};
    REQUIRE(http.push(d.token, batch(d.id, events)).status == 200);
    ev.set_seq(3);
    REQUIRE(
        http.push(d.token, batch(d.id, {ev.make("village", village, {{"name", "Жаңа"}}, "update")}))
            .status == 200);

    ProcessResult healthy = check_at(server, true);
    INFO(e2e::describe(healthy));
    REQUIRE(healthy.exit_code == 0);
    json report = json::parse(healthy.out);
    CHECK(report["ok"] == true);
    CHECK(report["events"] == 3);
    CHECK(report["rejected"] == 1); // the village outside the device's region
    CHECK(report["devices"] == 1);
    CHECK(report["fingerprint"] == report["rebuilt_fingerprint"]);
    // The scratch cache is gone; the process's own cache stays.
    for (const auto& entry : fs::directory_iterator(dir / "a")) {
        CHECK(entry.path().filename().string().rfind("check-", 0) == std::string::npos);
    }
    CHECK(fs::is_directory(dir / "a" / "pg-cache"));

    SECTION("a projection cache that no longer matches the feed") {
        fs::path cache;
        for (const auto& entry : fs::directory_iterator(dir / "a" / "pg-cache")) {
            if (entry.path().extension() == ".db") {
                cache = entry.path();
            }
        }
        REQUIRE_FALSE(cache.empty());
        {
            auto db = ok(storage::Database::open(cache, {.create = false}));
            REQUIRE(db.exec("UPDATE villages SET name = 'tampered'"));
        }
        ProcessResult damaged = check_at(server);
        INFO(e2e::describe(damaged));
        CHECK(damaged.exit_code == 1);
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: this process's projection cache differs from one"
                                   " built afresh from the feed"));
        CHECK_THAT(damaged.out, Catch::Contains("FAILED: 3 events, 1 rejected, 1 devices"));
        CHECK_THAT(damaged.err, Catch::Contains("the check found 1 problem(s)"));
    }
    SECTION("a feed row deleted behind the server's back") {
        {
            srv::pg::Pool pool(url, 1);
            auto conn = ok(pool.acquire());
            REQUIRE(conn->run("DELETE FROM events WHERE log_position = 2"));
        }
        ProcessResult damaged = check_at(server);
        INFO(e2e::describe(damaged));
        CHECK(damaged.exit_code == 1);
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: feed positions missing below the head: 1"));
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: devices whose acked_seq does not match the events"
                                   " held for them: 1"));
        CHECK_THAT(damaged.out,
                   Catch::Contains("problem: the feed cannot be replayed into a projection cache"));
        CHECK_THAT(damaged.out, Catch::Contains("FAILED: 2 events, 1 rejected, 1 devices"));
    }
}

TEST_CASE("postgresql: after a restore's new epoch a process keeps only the new projection cache",
          "[pg][server2]") {
    CARAVAN_REQUIRE_POSTGRES();
    TempDir dir;
    const std::string url = PgCluster::shared().database();
    auto pool = std::make_shared<srv::pg::Pool>(url, 2);
    srv::StoreOptions o;
    o.cache_dir = dir / "pg-cache";
    fs::create_directories(o.cache_dir);
    std::ofstream(o.cache_dir / "notes.txt") << "not a cache";
    auto store = ok(srv::Store::open_postgresql(pool, o));
    const std::string first = ok(store->feed().epoch());
    CHECK(fs::exists(o.cache_dir / ("cache-" + first + ".db")));

    // What docs/operations.md has the operator do after pg_restore.
    {
        auto conn = ok(pool->acquire());
        REQUIRE(conn->run("UPDATE meta SET value = 'feedfacefeedface' WHERE key = 'epoch'"));
    }
    REQUIRE(store->refresh());
    std::set<std::string> files;
    for (const auto& entry : fs::directory_iterator(o.cache_dir)) {
        files.insert(entry.path().filename().string());
    }
    CHECK(files.count("cache-feedfacefeedface.db") == 1);
    CHECK(files.count("notes.txt") == 1);
    for (const std::string& name : files) {
        INFO(name);
        CHECK(name.find(first) == std::string::npos);
    }
    // The new epoch's cache has the consultations' text index (the record browser's search).
    CHECK(ok(caravan::client::search_index::present(store->database())));
    CHECK(ok(caravan::client::search_index::matches_table(store->database())));
}
