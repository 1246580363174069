// A laptop restored from an older backup and then used: its log reuses sequence numbers the
// server already holds with other content. The sync re-registers it under a new device id
// (POST /v1/rotate), re-issues what was recorded on the restored copy, and pulls back what the
// restore lost: nothing is lost, nothing is duplicated. Real `caravan` and `caravan-server`
// processes; kill -9 of the client at each step of the rotation.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

#include <signal.h>

#include <atomic>
#include <set>

#include <httplib.h>

#include "fault_proxy.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

// Question → how many live consultations carry it, on a device.
std::map<std::string, int> questions_on(const Laptop& l) {
    std::map<std::string, int> out;
    for (const json& c : l.must_json({"consult", "list"})) {
        ++out[c["question"].get<std::string>()];
    }
    return out;
}

// Question → how many consultations carry it, in the server's projection.
std::map<std::string, int> questions_on(const Server& server) {
    auto store = inspect(server);
    storage::Database& db = store->database();
    auto stmt = ok(db.prepare("SELECT question FROM consultations WHERE coalesce(deleted, 0) = 0"));
    std::map<std::string, int> out;
    while (ok(stmt.step())) {
        ++out[stmt.column_text(0)];
    }
    return out;
}

// Every event of `device_id` the server holds, as (seq → payload), and the same on a laptop.
std::map<std::int64_t, std::string> server_events_of(const Server& server,
                                                     const std::string& device_id) {
    auto store = inspect(server);
    storage::Database& db = store->database();
    auto stmt = ok(db.prepare("SELECT seq, payload FROM events WHERE device_id = ?"));
    stmt.bind(1, device_id);
    std::map<std::int64_t, std::string> out;
    while (ok(stmt.step())) {
        out.emplace(stmt.column_int(0), stmt.column_text(1));
    }
    return out;
}

std::map<std::int64_t, std::string> laptop_events_of(const Laptop& l,
                                                     const std::string& device_id) {
    auto engine = ok(client::Engine::open(l.db()));
    std::map<std::int64_t, std::string> out;
    for (std::int64_t after = 0;;) {
        auto chunk = ok(engine.device_events(device_id, after, 1000));
        if (chunk.empty()) {
            return out;
        }
        for (auto& e : chunk) {
            after = e.seq;
            out.emplace(e.seq, e.payload);
        }
    }
}

std::string setting(const fs::path& db_path, std::string_view key) {
    auto db = ok(storage::Database::open(db_path, {.create = false}));
    storage::Settings settings(db);
    return ok(settings.get(key)).value_or("");
}

// The state the scenario must end in, whatever happened on the way.
const std::map<std::string, int> k_abc = {{"A: жер учаскесі туралы сұрақ", 1},
                                          {"B: қалпына келтіруден кейін жоғалған", 1},
                                          {"C: қалпына келтірілген көшірмеде", 1}};

void require_recovered(const Server& server, const Laptop& a, const Laptop& b,
                       const std::string& old_id,
                       const std::map<std::string, int>& expected = k_abc) {
    const std::string new_id = a.device_id();
    REQUIRE(new_id != old_id);

    // A, B (the timeline the restore lost) and C (recorded on the restored copy), once each,
    // on the server, on the restored laptop and on the other laptop.
    REQUIRE(questions_on(server) == expected);
    REQUIRE(questions_on(a) == expected);
    b.must_sync();
    REQUIRE(questions_on(b) == expected);

    // The old id's events: the server keeps all it had, and the laptop holds exactly those.
    auto held = server_events_of(server, old_id);
    REQUIRE(held.size() >= 5); // device, village, visit, A, B
    REQUIRE(laptop_events_of(a, old_id) == held);
    // The new id's events are on the server once each, identical, nothing beyond.
    require_exactly_once(server, {&a, &b});
    require_converged({&a, &b});

    json devices = server_devices(server);
    int matched = 0;
    for (const json& d : devices) {
        if (d["device_id"] == old_id) {
            REQUIRE(d["successor"] == new_id);
            ++matched;
        }
        if (d["device_id"] == new_id) {
            REQUIRE(d["predecessor"] == old_id);
            REQUIRE(d["lawyer"] == "Арнат");
            REQUIRE(d["regions"] == json::array({k_region}));
            ++matched;
        }
    }
    REQUIRE(matched == 2);
    REQUIRE(a.must_json({"status"})["unsynced"] == 0);
    REQUIRE(a.must_json({"conflicts"}).empty());
}

struct Scenario {
    TempDir dir;
    Server server{dir / "server"};
    Laptop a{dir / "a.db"};
    Laptop b{dir / "b.db"};
    std::string old_id;
    fs::path backup = dir / "a-backup.db";

    // Up to the point where the restored copy has recorded C and not synced yet. With
    // `unsynced_in_backup`, the backup also holds an event U recorded but not yet synced when
    // it was taken (the original database pushed it later, with B).
    void prepare(bool unsynced_in_backup = false) {
        a.setup(server, "Арнат");
        b.setup(server, "Бекзат");
        old_id = a.device_id();
        a.start_field_day();
        add_consultation(a, "A: жер учаскесі туралы сұрақ");
        a.must_sync();
        if (unsynced_in_backup) {
            add_consultation(a, "U: сақтық көшірмеде, әлі жіберілмеген");
        }
        a.must({"backup", backup.string()});
        add_consultation(a, "B: қалпына келтіруден кейін жоғалған");
        a.must_sync();
        b.must_sync();
        a.must({"restore", backup.string()});
        add_consultation(a, "C: қалпына келтірілген көшірмеде");
    }
};

} // namespace

TEST_CASE("rotate e2e: a laptop restored from an older backup and used again is re-registered "
          "under a new id, and A, B and C end up everywhere exactly once",
          "[sync][e2e][rotate]") {
    Scenario s;
    s.prepare();
    ProcessResult r = s.a.sync({"--json"});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    json report = json::parse(r.out);
    REQUIRE(report["rotated_from"] == s.old_id);
    REQUIRE(report["device_id"] == s.a.device_id());
    REQUIRE(report["reissued"] == 1); // C only: the visit and village were held identically
    REQUIRE(setting(s.a.db(), "sync.rotated_from") == s.old_id);
    REQUIRE(setting(s.a.db(), "sync.rotation.new_id").empty());
    require_recovered(s.server, s.a, s.b, s.old_id);

    // Work goes on under the new id, and the old id is closed: its token (still inside the old
    // backup) can neither push nor rotate again to an id of its own choosing.
    add_consultation(s.a, "D: жаңа жазба");
    s.a.must_sync();
    REQUIRE(questions_on(s.server).size() == 4);
    std::string old_token = setting(s.backup, "sync.token");
    REQUIRE(old_token.size() == 64);
    httplib::Client client("127.0.0.1", s.server.port());
    httplib::Headers auth = {{"Authorization", "Bearer " + old_token}};
    auto push = client.Post("/v1/push", auth,
                            json{{"device_id", s.old_id}, {"events", json::array()}}.dump(),
                            "application/json");
    REQUIRE(push);
    REQUIRE(push->status == 401);
    REQUIRE(json::parse(push->body)["error"]["code"] == "device_rotated");
    auto again = client.Post(
        "/v1/rotate", auth,
        json{{"device_id", s.old_id}, {"new_device_id", "01900000-0000-7000-8000-000000000001"}}
            .dump(),
        "application/json");
    REQUIRE(again);
    REQUIRE(again->status == 401);
    REQUIRE(json::parse(again->body)["error"]["code"] == "device_rotated");
}

TEST_CASE("rotate e2e: the client killed at each step of the rotation finishes it on the next "
          "sync with the same end state",
          "[sync][e2e][rotate][crash]") {
    // The answer to the rotation itself (the server has rotated, the laptop does not know),
    // the first push under the new id, and the pull that brings back the lost timeline.
    for (const std::string kill_on : {"/v1/rotate", "/v1/push", "/v1/pull"}) {
        DYNAMIC_SECTION("killed when the answer to " << kill_on << " is on its way") {
            Scenario s;
            s.prepare();
            FaultProxy proxy(s.server.port());
            s.a.use_server_url(proxy.url());
            std::atomic<pid_t> victim{-1};
            std::atomic<bool> armed{kill_on == "/v1/rotate"};
            std::atomic<bool> killed{false};
            proxy.on_response([&](const std::string& path) {
                if (path == "/v1/rotate") {
                    armed = true; // pushes and pulls after this one run under the new id
                    if (kill_on != "/v1/rotate") {
                        return;
                    }
                }
                if (armed && path == kill_on && !killed) {
                    for (int i = 0; i < 1000 && victim.load() < 0; ++i) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                    }
                    if (victim.load() > 0) {
                        killed = true;
                        ::kill(victim.load(), SIGKILL);
                    }
                }
            });
            std::vector<std::string> argv = {
                binary("caravan").string(), "--db", s.a.db().string(), "sync",
                "--retry-base-ms",          "5",    "--retry-cap-ms",  "50"};
            BackgroundProcess sync(argv, {}, s.dir / "sync.out", s.dir / "sync.err");
            victim = sync.pid();
            auto status = sync.wait(std::chrono::seconds(60));
            proxy.on_response({});
            REQUIRE(status);
            INFO("sync: " << read_file(s.dir / "sync.out") << read_file(s.dir / "sync.err"));
            REQUIRE(killed);
            REQUIRE(WIFSIGNALED(*status));
            if (kill_on == "/v1/rotate") {
                // Killed before the local rewrite: still the old id, the new one remembered.
                REQUIRE(s.a.device_id() == s.old_id);
                REQUIRE(!setting(s.a.db(), "sync.rotation.new_id").empty());
            } else {
                REQUIRE(s.a.device_id() != s.old_id);
            }

            s.a.must_sync();
            require_recovered(s.server, s.a, s.b, s.old_id);
        }
    }
}

TEST_CASE("rotate e2e: an event that was unsynced when the backup was taken, and pushed later "
          "by the original, is not re-issued (no duplicate)",
          "[sync][e2e][rotate]") {
    Scenario s;
    s.prepare(true);
    ProcessResult r = s.a.sync({"--json"});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    json report = json::parse(r.out);
    REQUIRE(report["rotated_from"] == s.old_id);
    REQUIRE(report["reissued"] == 1); // C; U is held identically by the server and stays U
    auto expected = k_abc;
    expected["U: сақтық көшірмеде, әлі жіберілмеген"] = 1;
    require_recovered(s.server, s.a, s.b, s.old_id, expected);
}
