#include "server_test_support.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <regex>
#include <sstream>
#include <thread>

#include "caravan/client/projector.hpp"
#include "caravan/sync/server/cli.hpp"
#include "process.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::server;

namespace {

ProcessResult server_cli(const std::vector<std::string>& args) {
    std::vector<std::string> argv{binary("caravan-server").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv);
}

// `caravan-server serve` on port 0, waiting for its "listening on" line.
class ServeProcess {
  public:
    // Each instance has its own output files: a second server must not be mistaken for the
    // first by reading the first one's "listening on" line.
    explicit ServeProcess(const std::filesystem::path& data, const std::filesystem::path& logs)
        : m_out(logs / ("serve" + std::to_string(++s_count) + ".out")),
          m_err(logs / ("serve" + std::to_string(s_count) + ".err")),
          m_process({binary("caravan-server").string(), "serve", "--data", data.string(),
                     "--listen", "127.0.0.1:0", "--threads", "4"},
                    {}, m_out, m_err) {
        for (int i = 0; i < 1000; ++i) {
            std::string out = read_file(m_out);
            auto newline = out.find('\n');
            if (newline != std::string::npos) {
                m_first_line = out.substr(0, newline);
                std::smatch m;
                if (std::regex_match(m_first_line, m,
                                     std::regex("listening on 127\\.0\\.0\\.1:([0-9]+)"))) {
                    m_port = std::stoi(m[1]);
                }
                return;
            }
            if (!m_process.running()) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        FAIL("serve did not print its address; stderr: " << read_file(m_err));
    }

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] const std::string& first_line() const { return m_first_line; }
    [[nodiscard]] std::string err() const { return read_file(m_err); }
    // Sends `sig` and returns the exit status (nullopt: still running after 10 s).
    std::optional<int> stop(int sig = SIGTERM) {
        m_process.kill_now(sig);
        return m_process.wait(std::chrono::seconds(10));
    }

  private:
    static inline int s_count = 0;
    std::filesystem::path m_out, m_err;
    BackgroundProcess m_process;
    std::string m_first_line;
    int m_port = 0;
};

Device enroll_over_http(int port, const std::string& code) {
    Http http(port);
    std::string id = new_id();
    Reply r = http.post("/v1/enroll", "", json{{"code", code}, {"device_id", id}}.dump());
    REQUIRE(r.status == 200);
    return {id, r.body["token"]};
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) {
        s.pop_back();
    }
    return s;
}

} // namespace

TEST_CASE("caravan-server serve: prints its address first, serves, stops on SIGTERM and SIGINT",
          "[server][cli]") {
    TempDir dir;
    for (int sig : {SIGTERM, SIGINT}) {
        ServeProcess serve(dir / "data", dir.path());
        CHECK(serve.port() > 0);
        Http http(serve.port());
        Reply health = http.get("/v1/health");
        CHECK(health.status == 200);
        auto status = serve.stop(sig);
        REQUIRE(status);
        CHECK(WIFEXITED(*status));
        CHECK(WEXITSTATUS(*status) == 0);
        CHECK(serve.err().find("route=/v1/health status=200") != std::string::npos);
    }
}

TEST_CASE("caravan-server: a second server on the same data directory is refused",
          "[server][cli]") {
    TempDir dir;
    ServeProcess serve(dir / "data", dir.path());
    auto second =
        server_cli({"serve", "--data", (dir / "data").string(), "--listen", "127.0.0.1:0"});
    CHECK(second.exit_code == 1);
    CHECK(second.err.find("in use") != std::string::npos);
    serve.stop();
}

TEST_CASE("caravan-server: enroll-code, devices and revoke work against a running server",
          "[server][cli]") {
    TempDir dir;
    const std::string data = (dir / "data").string();
    ServeProcess serve(dir / "data", dir.path());

    auto code = server_cli({"enroll-code", "--data", data, "--lawyer", "Арнат Ұлтанбаев",
                            "--region", k_region_a, "--region", k_region_b, "--ttl", "24"});
    REQUIRE(code.exit_code == 0);
    std::string text = trimmed(code.out);
    CHECK(std::regex_match(text, std::regex("[A-Z2-9]{3}-[A-Z2-9]{3}-[A-Z2-9]{3}")));
    Device d = enroll_over_http(serve.port(), text);

    Http http(serve.port());
    Events ev(d.id);
    REQUIRE(http.push(d.token, batch(d.id, {ev.self("Арнат Ұлтанбаев", k_region_a)}),
                      {{"X-Caravan-Queue-Depth", "0"}, {"X-Caravan-App-Version", "caravan/9"}})
                .status == 200);

    auto listed = server_cli({"devices", "--data", data, "--json"});
    REQUIRE(listed.exit_code == 0);
    json devices = json::parse(listed.out);
    REQUIRE(devices.size() == 1);
    CHECK(devices[0]["device_id"] == d.id);
    CHECK(devices[0]["lawyer"] == "Арнат Ұлтанбаев");
    CHECK(devices[0]["role"] == "lawyer");
    CHECK(devices[0]["regions"].size() == 2);
    CHECK(devices[0]["acked_seq"] == 1);
    CHECK(devices[0]["queue_depth"] == 0);
    CHECK(devices[0]["app_version"] == "caravan/9");
    CHECK_FALSE(devices[0]["last_sync"].is_null());
    CHECK(devices[0]["revoked"] == false);

    auto table = server_cli({"devices", "--data", data});
    REQUIRE(table.exit_code == 0);
    CHECK(table.out.find(d.id) != std::string::npos);
    CHECK(table.out.find("last sync") != std::string::npos);

    auto revoke = server_cli({"devices", "revoke", client::short_id(d.id), "--data", data});
    REQUIRE(revoke.exit_code == 0);
    CHECK(revoke.out.find(d.id) != std::string::npos);
    Reply after = http.get("/v1/status", d.token);
    CHECK(after.status == 401);
    CHECK(after.code() == "device_revoked");
    json again = json::parse(server_cli({"devices", "--data", data, "--json"}).out);
    CHECK(again[0]["revoked"] == true);

    // The access log never names the lawyer.
    serve.stop();
    CHECK(serve.err().find("Арнат") == std::string::npos);
}

TEST_CASE("caravan-server: bad usage and bad input exit 2, with one line on stderr",
          "[server][cli]") {
    TempDir dir;
    const std::string data = (dir / "data").string();
    CHECK(server_cli({}).exit_code == 2);
    CHECK(server_cli({"enroll-code", "--data", data}).exit_code == 2);                  // no lawyer
    CHECK(server_cli({"enroll-code", "--data", data, "--lawyer", "X"}).exit_code == 2); // region
    CHECK(server_cli(
              {"enroll-code", "--data", data, "--lawyer", "X", "--region", "R", "--role", "admin"})
              .exit_code == 2);
    CHECK(
        server_cli({"enroll-code", "--data", data, "--lawyer", "X", "--region", "R", "--ttl", "0"})
            .exit_code == 2);
    CHECK(server_cli({"devices", "--data", (dir / "nothing").string()}).exit_code == 2);
    CHECK(server_cli({"serve", "--data", data, "--listen", "nonsense"}).exit_code == 2);
    // A coordinator needs no region.
    CHECK(server_cli({"enroll-code", "--data", data, "--lawyer", "C", "--role", "coordinator"})
              .exit_code == 0);
    auto unknown = server_cli({"devices", "revoke", "abcdef12", "--data", data});
    CHECK(unknown.exit_code == 2);
    CHECK(unknown.err.find("no enrolled device") != std::string::npos);
}

TEST_CASE("caravan-server: backup while serving, check, restore refused while serving, restore "
          "with a new epoch",
          "[server][cli]") {
    TempDir dir;
    const std::string data = (dir / "data").string();
    const std::string backup = (dir / "backup.db").string();
    std::string epoch;
    Device d;
    {
        ServeProcess serve(dir / "data", dir.path());
        auto code =
            server_cli({"enroll-code", "--data", data, "--lawyer", "L", "--region", k_region_a});
        d = enroll_over_http(serve.port(), trimmed(code.out));
        Http http(serve.port());
        Events ev(d.id);
        std::string village = new_id();
        REQUIRE(http.push(d.token, batch(d.id, {ev.self("L", k_region_a),
                                                ev.village(village, "Ауыл", k_region_a)}))
                    .status == 200);
        epoch = http.get("/v1/status", d.token).body["epoch"];

        auto made = server_cli({"backup", "--data", data, backup});
        REQUIRE(made.exit_code == 0);
        CHECK(std::filesystem::exists(backup));
        CHECK((std::filesystem::status(backup).permissions() &
               std::filesystem::perms::others_read) == std::filesystem::perms::none);

        auto checked = server_cli({"check", "--data", data, "--json"});
        INFO(checked.out << checked.err);
        REQUIRE(checked.exit_code == 0);
        json report = json::parse(checked.out);
        CHECK(report["ok"] == true);
        CHECK(report["events"] == 2);
        CHECK(report["fingerprint"] == report["rebuilt_fingerprint"]);

        auto refused = server_cli({"restore", "--data", data, backup});
        CHECK(refused.exit_code == 1);
        CHECK(refused.err.find("stop it") != std::string::npos);
        serve.stop();
    }
    auto restored = server_cli({"restore", "--data", data, backup});
    INFO(restored.err);
    REQUIRE(restored.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(restored.out, m, std::regex("new epoch ([0-9a-f]{16})")));
    CHECK(m[1] != epoch);

    ServeProcess serve(dir / "data", dir.path());
    Http http(serve.port());
    Reply pull = http.get("/v1/pull?after=0&epoch=" + epoch, d.token);
    CHECK(pull.status == 409);
    CHECK(pull.code() == "epoch_changed");
    CHECK(pull.body["epoch"] == m[1].str());
    serve.stop();

    CHECK(server_cli({"restore", "--data", data, (dir / "missing.db").string()}).exit_code == 2);
    std::ofstream(dir / "junk.db") << std::string(10000, 'j');
    CHECK(server_cli({"restore", "--data", data, (dir / "junk.db").string()}).exit_code == 1);
    CHECK(server_cli({"check", "--data", data}).exit_code == 0); // the junk did not replace it
}

TEST_CASE("caravan-server check: visit totals that no longer add up to the records are "
          "reported",
          "[server][cli][totals]") {
    TempDir dir;
    const std::string data = (dir / "data").string();
    {
        ServeProcess serve(dir / "data", dir.path());
        auto code =
            server_cli({"enroll-code", "--data", data, "--lawyer", "L", "--region", k_region_a});
        Device d = enroll_over_http(serve.port(), trimmed(code.out));
        Http http(serve.port());
        Events ev(d.id);
        const std::string village = new_id(), visit = new_id();
        REQUIRE(http.push(d.token, batch(d.id, {ev.self("L", k_region_a),
                                                ev.village(village, "Ауыл", k_region_a),
                                                ev.visit(visit, village),
                                                ev.consultation(new_id(), visit),
                                                ev.consultation(new_id(), visit, "male")}))
                    .status == 200);
        serve.stop();
    }
    auto checked = server_cli({"check", "--data", data, "--json"});
    INFO(checked.out << checked.err);
    REQUIRE(checked.exit_code == 0); // kept as the pushes were projected
    {
        auto db = storage::Database::open(dir / "data" / "server.db");
        REQUIRE(db);
        REQUIRE(db->exec("UPDATE visit_totals SET consultations = consultations + 1"));
    }
    checked = server_cli({"check", "--data", data, "--json"});
    INFO(checked.out << checked.err);
    CHECK(checked.exit_code != 0);
    const json report = json::parse(checked.out);
    CHECK(report["ok"] == false);
    CHECK(report.dump().find("the visit totals differ from the records") != std::string::npos);
}

TEST_CASE("caravan-server conflicts: concurrent edits seen by the server are listed",
          "[server][cli]") {
    TestServer server;
    Device a = server.enroll({k_region_a});
    Device b = server.enroll({k_region_a});
    Http http(server.port());
    Events ea(a.id), eb(b.id);
    std::string village = new_id(), visit = new_id(), consultation = new_id();
    std::vector<storage::Event> first{ea.self("A", k_region_a),
                                      ea.village(village, "Ауыл", k_region_a),
                                      ea.visit(visit, village)};
    auto created = ea.consultation(consultation, visit);
    first.push_back(created);
    REQUIRE(http.push(a.token, batch(a.id, first)).status == 200);
    // Both edit the outcome having seen only the create.
    const std::string base = client::version_of(created.hlc, a.id);
    // Both clocks are past the create; neither edit knows of the other.
    auto edit = [&](Events& ev, const std::string& outcome, std::int64_t later_ms) {
        auto e = ev.make("consultation", consultation, {{"outcome", outcome}}, "update");
        e.payload = sync::canonical_payload(
            json{{"fields", {{"outcome", outcome}}}, {"base", {{"outcome", base}}}});
        e.hlc = created.hlc + (later_ms << 16);
        return e;
    };
    REQUIRE(http.push(a.token, batch(a.id, {edit(ea, "referred", 700)})).status == 200);
    auto b_self = eb.self("B", k_region_a);
    REQUIRE(http.push(b.token, batch(b.id, {b_self, edit(eb, "document", 500)})).status == 200);
    server.stop();

    std::ostringstream out, err;
    int rc = srv::run_cli({"conflicts", "--data", server.data_dir().string(), "--json"}, out, err);
    REQUIRE(rc == 0);
    json list = json::parse(out.str());
    REQUIRE(list.size() == 1);
    CHECK(list[0]["entity_id"] == consultation);
    CHECK(list[0]["field"] == "outcome");
}

TEST_CASE("caravan-server: --help lists every command in the order it always had, and the "
          "exports take --data, --lang and --json",
          "[server][cli]") {
    std::ostringstream out, err;
    REQUIRE(srv::run_cli({"--help"}, out, err) == 0);
    const std::string help = out.str();
    std::size_t at = 0;
    for (const char* command : {"serve", "enroll-code", "devices", "conflicts", "backup",
                                "restore", "check", "export", "report"}) {
        auto found = help.find("\n  " + std::string(command) + " ", at);
        INFO(command);
        REQUIRE(found != std::string::npos);
        at = found;
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"export", "journal", "--help"},
          std::vector<std::string>{"report", "indicators", "--help"},
          std::vector<std::string>{"report", "breakdown", "--help"}}) {
        std::ostringstream o, e;
        REQUIRE(srv::run_cli(args, o, e) == 0);
        INFO(args[0] << " " << args[1]);
        CHECK(o.str().find("--data") != std::string::npos);
        CHECK(o.str().find("--lang") != std::string::npos);
        CHECK(o.str().find("--json") != std::string::npos);
    }
    // A command that needs --data says so, with the usage exit code.
    std::ostringstream o, e;
    CHECK(srv::run_cli({"export", "journal", "--all"}, o, e) == 2);
    CHECK(e.str().find("--data") != std::string::npos);
}
