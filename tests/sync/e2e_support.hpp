#pragma once
// End-to-end helpers: the real `caravan-server` binary on 127.0.0.1 port 0, real `caravan`
// processes on their own device databases, and checks that read the databases afterwards:
// exactly-once on the server, identical projections on the devices.

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "fault_proxy.hpp"
#include "must.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

namespace caravan::test::e2e {

namespace fs = std::filesystem;
using caravan::ok; // tests/support/must.hpp; suites write e2e::ok
using nlohmann::json;

inline const std::string k_region = "Жамбыл обл.";

inline std::string describe(const ProcessResult& r) {
    return "exit " + std::to_string(r.exit_code) + " signal " + std::to_string(r.signal) +
           "\nstdout: " + r.out + "\nstderr: " + r.err;
}

// The last non-empty line of a program's output (`enroll-code` prints the code there).
inline std::string last_line(std::string out) {
    while (!out.empty() && out.back() == '\n') {
        out.pop_back();
    }
    return out.substr(out.rfind('\n') + 1);
}

// `caravan-server serve` in the background; restartable on the same data directory.
class Server {
  public:
    // `store`: a postgresql:// URL (the PostgreSQL store; `data` then holds its cache), "" for
    // the embedded store, or by default the store under test (tests/support/pg_cluster.hpp).
    explicit Server(fs::path data, std::optional<std::string> store = std::nullopt)
        : m_data(std::move(data)), m_store(store ? *store : store_under_test()) {
        start();
    }

    void start() {
        fs::create_directories(m_data.parent_path());
        m_out = m_data.string() + ".out";
        // A restart must not read the previous run's address before the child truncates it.
        fs::remove(m_out);
        m_proc = std::make_unique<BackgroundProcess>(
            with_store({binary("caravan-server").string(), "serve", "--data", m_data.string(),
                        "--listen", "127.0.0.1:0", "--threads", "4"}),
            std::map<std::string, std::string>{}, m_out, m_data.string() + ".err");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        for (;;) {
            if (auto port = listening_port(m_out)) {
                m_port = *port;
                return;
            }
            if (std::chrono::steady_clock::now() > deadline || !m_proc->running()) {
                FAIL("caravan-server did not start: " << read_file(m_data.string() + ".err"));
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    void kill9() {
        m_proc->kill_now(9);
        (void)m_proc->wait(std::chrono::seconds(10));
    }
    void restart() {
        kill9();
        start();
    }
    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    [[nodiscard]] const fs::path& data() const { return m_data; }

    // A fresh single-use code.
    std::string code(const std::string& lawyer, const std::vector<std::string>& regions,
                     const std::string& role = "lawyer") {
        std::vector<std::string> argv = {binary("caravan-server").string(),
                                         "enroll-code",
                                         "--data",
                                         m_data.string(),
                                         "--lawyer",
                                         lawyer,
                                         "--role",
                                         role};
        for (const auto& r : regions) {
            argv.push_back("--region");
            argv.push_back(r);
        }
        ProcessResult r = run_process(with_store(argv));
        INFO(describe(r));
        REQUIRE(r.exit_code == 0);
        return last_line(r.out);
    }

    [[nodiscard]] const std::string& store() const { return m_store; }

    // `argv` of a caravan-server command, with --store when this server has one.
    [[nodiscard]] std::vector<std::string> with_store(std::vector<std::string> argv) const {
        if (!m_store.empty()) {
            argv.insert(argv.end(), {"--store", m_store});
        }
        return argv;
    }

  private:
    fs::path m_data;
    std::string m_store;
    fs::path m_out;
    std::unique_ptr<BackgroundProcess> m_proc;
    int m_port = 0;
};

// A laptop: a device database and the `caravan` binary.
class Laptop {
  public:
    Laptop(fs::path db, std::map<std::string, std::string> env = {})
        : m_db(std::move(db)), m_env(std::move(env)) {}

    ProcessResult run(std::vector<std::string> args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
        std::vector<std::string> argv = {binary("caravan").string(), "--db", m_db.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, m_env, {}, timeout);
    }
    // Runs and requires exit 0; returns stdout.
    std::string must(std::vector<std::string> args) const {
        ProcessResult r = run(args);
        INFO("caravan " << args.front() << ": " << describe(r));
        REQUIRE(r.exit_code == 0);
        return r.out;
    }
    json must_json(std::vector<std::string> args) const {
        args.push_back("--json");
        return json::parse(must(std::move(args)));
    }
    void setup(Server& server, const std::string& lawyer, const std::string& role = "lawyer") {
        must({"init", "--lawyer", lawyer, "--region", k_region});
        must({"enroll", "--server", server.url(), "--code",
              server.code(lawyer,
                          role == "lawyer" ? std::vector<std::string>{k_region}
                                           : std::vector<std::string>{},
                          role)});
    }
    // The village Қызылжар of k_region added and a visit to it started on 2024-05-14.
    void start_field_day() const {
        must({"village", "add", "Қызылжар", "--region", k_region});
        must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    }
    // Points the stored server URL elsewhere (a proxy), as re-enrolling would.
    void use_server_url(const std::string& url) const {
        auto db = ok(storage::Database::open(m_db, {.create = false}));
        storage::Settings settings(db);
        REQUIRE(settings.set(sync::agent::keys::server_url, url));
    }
    ProcessResult sync(std::vector<std::string> extra = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(120)) const {
        std::vector<std::string> args = {"sync", "--retry-base-ms", "5", "--retry-cap-ms", "50"};
        args.insert(args.end(), extra.begin(), extra.end());
        return run(args, timeout);
    }
    void must_sync(std::vector<std::string> extra = {}) const {
        ProcessResult r = sync(std::move(extra));
        INFO("sync: " << describe(r));
        REQUIRE(r.exit_code == 0);
    }

    [[nodiscard]] const fs::path& db() const { return m_db; }
    [[nodiscard]] const std::map<std::string, std::string>& env() const { return m_env; }

    std::string fingerprint() const {
        auto engine = ok(client::Engine::open(m_db));
        return ok(engine.fingerprint());
    }
    std::string device_id() const {
        auto engine = ok(client::Engine::open(m_db));
        return ok(engine.device()).id;
    }
    // Own events, by seq.
    std::map<std::int64_t, storage::Event> own_events() const {
        auto engine = ok(client::Engine::open(m_db));
        std::string id = ok(engine.device()).id;
        std::map<std::int64_t, storage::Event> out;
        std::int64_t after = 0;
        for (;;) {
            auto chunk = ok(engine.device_events(id, after, 1000));
            if (chunk.empty()) {
                return out;
            }
            for (auto& e : chunk) {
                after = e.seq;
                out.emplace(e.seq, std::move(e));
            }
        }
    }

  private:
    fs::path m_db;
    std::map<std::string, std::string> m_env;
};

// The server and the laptop `a` of the lawyer Арнат, enrolled with it: where most tests start
// (TEST_CASE_METHOD(OneLaptop, ...)).
struct OneLaptop {
    TempDir dir;
    Server server{dir / "server"};
    Laptop a{dir / "a.db"};
    OneLaptop() { a.setup(server, "Арнат"); }
};

// The same with a fault proxy between them: `a` syncs through `proxy`.
struct ProxiedLaptop : OneLaptop {
    FaultProxy proxy{server.port()};
    ProxiedLaptop() { a.use_server_url(proxy.url()); }
};

// A consultation recorded with `caravan consult add` (land, advice, kk) on the laptop's
// current visit; returns its id.
inline std::string add_consultation(const Laptop& l, const std::string& question) {
    json c = l.must_json({"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                          "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                          question, "--advice", "кеңес", "--lang", "kk"});
    return c["id"].get<std::string>();
}

// `caravan-server devices --json`.
inline json server_devices(const Server& server) {
    ProcessResult r = run_process(server.with_store(
        {binary("caravan-server").string(), "devices", "--data", server.data().string(), "--json"}));
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
}

// `count` lawyers' laptops of k_region, enrolled with `server` and then syncing through `url`
// (a proxy), each with the village Қызылжар known and a visit to it started on 2024-05-14.
inline std::vector<std::unique_ptr<Laptop>> field_team(const fs::path& dir, Server& server,
                                                       const std::string& url, int count) {
    std::vector<std::unique_ptr<Laptop>> laptops;
    for (int i = 0; i < count; ++i) {
        laptops.push_back(std::make_unique<Laptop>(dir / ("l" + std::to_string(i) + ".db")));
        laptops.back()->setup(server, "Lawyer " + std::to_string(i));
        laptops.back()->use_server_url(url);
    }
    laptops[0]->must({"village", "add", "Қызылжар", "--region", k_region});
    laptops[0]->must_sync();
    for (auto& l : laptops) {
        l->must_sync();
        l->must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    }
    return laptops;
}

// The server's SQLite database, read-only, beside the running server (the embedded store only:
// e2e_inspect.hpp reads either store).
inline storage::Database open_server_db(const Server& server) {
    storage::OpenOptions o;
    o.create = false;
    o.read_only = true;
    o.integrity_check = false;
    return ok(storage::Database::open(server.data() / "server.db", o));
}

// All laptops have the same projections, and `sync --verify` agrees on each.
inline void require_converged(const std::vector<const Laptop*>& laptops) {
    std::string first = laptops.front()->fingerprint();
    for (const Laptop* l : laptops) {
        REQUIRE(l->fingerprint() == first);
        ProcessResult r = l->sync({"--verify", "--json"});
        INFO(describe(r));
        REQUIRE(r.exit_code == 0);
        REQUIRE(json::parse(r.out)["verify"]["agree"] == true);
    }
}

} // namespace caravan::test::e2e
