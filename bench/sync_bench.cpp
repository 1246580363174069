// Sync through the real agent (SyncAgent + CurlTransport) to a real `caravan-server` process.
//
//   sync_bench [--quick] [loopback|link [DIVISOR]|all]   (DIVISOR: a fraction of the month)
//
// loopback: N consultations (100,000; --quick 2,000) recorded offline through the Engine, then
//   one sync to a server on 127.0.0.1. Prints wall time, events/s, bytes per event each way
//   (as compressed on the wire, headers included), requests, peak memory of the client (this
//   process, getrusage) and of the server (its own process, VmHWM). Baseline in the same run:
//   the same compressed push bodies POSTed with bare libcurl (one keep-alive handle) to a bare
//   cpp-httplib handler (its own process) that stores each body as one row of one SQLite table
//   (WAL, synchronous=FULL, one commit per request): the network + storage floor without our
//   protocol, validation, projections or acknowledgements.
// link: a month of one caravan offline (3,000 consultations with Kazakh text, 15,000 attendance
//   entries, 1,000 photo metadata records; --quick: a thirtieth) synced through ShapingProxy:
//   64 kbit/s each way, 250 ms each way, and three loss models (none; 2 % of segments
//   retransmitted after a 700 ms timeout; connection resets, see docs/performance.md). Prints
//   time, bytes each way, round trips, the link's floor (bytes / bandwidth + round trips x RTT)
//   and the ratio to it (target: within 1.5x).
//
// Prints figures; asserts nothing about time. Exits non-zero only when a sync fails or the
// server does not hold what was sent.

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/sync_agent.hpp"
#include "caravan/sync/server/store.hpp"
#include "shaping_proxy.hpp"
#include "support.hpp"

extern char** environ;

using namespace caravan;
using namespace caravan::bench;
namespace fs = std::filesystem;
namespace agent = caravan::sync::agent;
namespace srv = caravan::sync::server;

namespace {

const std::string k_lawyer = "Арнат Ұлтанбаев";
const std::string k_region = "Жамбыл обл.";

[[noreturn]] void bail(const std::string& what) {
    std::cerr << "sync_bench: " << what << "\n";
    std::exit(1);
}

std::string server_exe() {
    if (const char* env = std::getenv("CARAVAN_SERVER_EXE"); env && *env) {
        return env;
    }
    return CARAVAN_SERVER_EXE_PATH;
}

long vm_hwm_kb(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::atol(line.c_str() + 6);
        }
    }
    return 0;
}

// Reads one line from `fd` within `timeout_ms` (the child's "listening on HOST:PORT").
std::string read_line(int fd, int timeout_ms) {
    std::string line;
    const double deadline = now_s() + timeout_ms / 1000.0;
    while (now_s() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char c;
        if (::read(fd, &c, 1) != 1) {
            break;
        }
        if (c == '\n') {
            return line;
        }
        line += c;
    }
    return line;
}

int port_of(const std::string& line) {
    auto colon = line.rfind(':');
    return colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
}

// `caravan-server serve` in its own process, on an ephemeral loopback port.
class ServerProcess {
  public:
    explicit ServerProcess(const fs::path& data) {
        int out[2];
        if (::pipe2(out, O_CLOEXEC) != 0) {
            bail("pipe");
        }
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
        std::vector<std::string> args = {server_exe(),  "serve",    "--data",
                                         data.string(), "--listen", "127.0.0.1:0"};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        if (posix_spawn(&m_pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
            bail("cannot start " + args[0]);
        }
        posix_spawn_file_actions_destroy(&actions);
        ::close(out[1]);
        std::string line = read_line(out[0], 30000);
        ::close(out[0]);
        m_port = port_of(line);
        if (m_port <= 0) {
            bail("caravan-server did not say where it listens");
        }
    }
    ~ServerProcess() { stop(); }
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] long peak_kb() const { return vm_hwm_kb(m_pid); }
    // User + system CPU seconds of the server so far (/proc/PID/stat fields 14 and 15).
    [[nodiscard]] double cpu_s() const {
        std::ifstream in("/proc/" + std::to_string(m_pid) + "/stat");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(text.substr(text.rfind(')') + 2));
        std::string f;
        double ticks = 0;
        for (int i = 3; i <= 15 && fields >> f; ++i) {
            if (i >= 14) {
                ticks += std::atof(f.c_str());
            }
        }
        return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
    void stop() {
        if (m_pid > 0) {
            ::kill(m_pid, SIGTERM);
            int status = 0;
            ::waitpid(m_pid, &status, 0);
            m_pid = -1;
        }
    }

  private:
    pid_t m_pid = -1;
    int m_port = 0;
};

// Runs `work` in a forked child (so that this process's peak memory stays the sync's own) and
// waits for it. Called while this process has no other thread.
template <class F> void in_child(const char* what, F&& work) {
    std::cout.flush();
    pid_t pid = ::fork();
    if (pid < 0) {
        bail("fork");
    }
    if (pid == 0) {
        work();
        std::cout.flush();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bail(std::string(what) + " failed");
    }
}

// The bare baseline server, forked: one table, one INSERT per request, nothing else.
class BareServer {
  public:
    explicit BareServer(const fs::path& db) {
        int out[2];
        if (::pipe(out) != 0) {
            bail("pipe");
        }
        std::cout.flush();
        m_pid = ::fork();
        if (m_pid < 0) {
            bail("fork");
        }
        if (m_pid == 0) {
            ::close(out[0]);
            serve(db, out[1]);
            ::_exit(0);
        }
        ::close(out[1]);
        m_port = port_of(read_line(out[0], 30000));
        ::close(out[0]);
        if (m_port <= 0) {
            bail("the bare server did not start");
        }
    }
    ~BareServer() {
        ::kill(m_pid, SIGKILL);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
    BareServer(const BareServer&) = delete;
    BareServer& operator=(const BareServer&) = delete;
    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] long peak_kb() const { return vm_hwm_kb(m_pid); }

  private:
    static void serve(const fs::path& path, int report_fd) {
        sqlite3* db = nullptr;
        if (sqlite3_open(path.c_str(), &db) != SQLITE_OK ||
            sqlite3_exec(db,
                         "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                         "CREATE TABLE bodies(id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
                         nullptr, nullptr, nullptr) != SQLITE_OK) {
            ::_exit(1);
        }
        sqlite3_stmt* insert = nullptr;
        sqlite3_prepare_v2(db, "INSERT INTO bodies(body) VALUES(?)", -1, &insert, nullptr);
        httplib::Server http;
        http.set_keep_alive_max_count(1000000);
        http.set_tcp_nodelay(true);
        http.Post("/v1/push", [&](const httplib::Request&, httplib::Response& res,
                                  const httplib::ContentReader& reader) {
            std::string body;
            reader([&](const char* data, std::size_t n) {
                body.append(data, n);
                return true;
            });
            sqlite3_bind_blob(insert, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
            bool ok = sqlite3_step(insert) == SQLITE_DONE;
            sqlite3_reset(insert);
            res.status = ok ? 200 : 500;
            res.set_content("{}", "application/json");
        });
        int port = http.bind_to_any_port("127.0.0.1");
        std::string line = "listening on 127.0.0.1:" + std::to_string(port) + "\n";
        if (::write(report_fd, line.data(), line.size()) < 0) {
            ::_exit(1);
        }
        ::close(report_fd);
        http.listen_after_bind();
    }

    pid_t m_pid = -1;
    int m_port = 0;
};

// Passes every request on, and appends each push body (as sent: compressed) to a file for the
// baseline, outside memory so that it does not count in the client's peak.
class RecordingTransport final : public agent::Transport {
  public:
    RecordingTransport(agent::Transport& inner, const fs::path& file)
        : m_inner(inner), m_out(file, std::ios::binary) {}
    Result<agent::HttpResponse> send(const agent::HttpRequest& request) override {
        auto response = m_inner.send(request);
        if (response && response->status == 200 && request.target == "/v1/push") {
            std::uint64_t n = request.body.size();
            m_out.write(reinterpret_cast<const char*>(&n), sizeof n);
            m_out.write(request.body.data(), static_cast<std::streamsize>(n));
        }
        return response;
    }
    [[nodiscard]] agent::TransferTotals totals() const override { return m_inner.totals(); }
    void close() { m_out.close(); }

  private:
    agent::Transport& m_inner;
    std::ofstream m_out;
};

// Passes every request on and keeps what went wrong on the way: the failed exchanges (no
// complete response) and the non-200 answers, by message, for the report.
class WatchingTransport final : public agent::Transport {
  public:
    explicit WatchingTransport(agent::Transport& inner) : m_inner(inner) {}
    Result<agent::HttpResponse> send(const agent::HttpRequest& request) override {
        const agent::TransferTotals before = m_inner.totals();
        auto response = m_inner.send(request);
        const agent::TransferTotals after = m_inner.totals();
        std::string route = request.target.substr(0, request.target.find('?'));
        m_down[route] += after.bytes_received - before.bytes_received;
        m_up[route] += after.bytes_sent - before.bytes_sent;
        if (!response) {
            ++m_failures[std::string(to_string(response.error().code)) + ": " +
                         response.error().message];
        } else if (response->status != 200) {
            ++m_failures["HTTP " + std::to_string(response->status)];
        }
        return response;
    }
    [[nodiscard]] agent::TransferTotals totals() const override { return m_inner.totals(); }
    [[nodiscard]] std::string summary() const {
        std::string out;
        for (const auto& [what, n] : m_failures) {
            out += (out.empty() ? "" : "; ") + std::to_string(n) + "x " + what;
        }
        return out.empty() ? "none" : out;
    }
    // Wire bytes (compressed, headers included) per route: "/v1/push 640.1 up 95.2 down, ...".
    [[nodiscard]] std::string by_route() const {
        std::string out;
        for (const auto& [route, up] : m_up) {
            out += (out.empty() ? "" : ", ") + route + " " +
                   fmt(static_cast<double>(up) / 1024.0, 1) + " KiB up " +
                   fmt(static_cast<double>(m_down.at(route)) / 1024.0, 1) + " KiB down";
        }
        return out;
    }

  private:
    agent::Transport& m_inner;
    std::map<std::string, int> m_failures;
    std::map<std::string, std::int64_t> m_up, m_down;
};

std::unique_ptr<agent::CurlTransport> transport_to(int port) {
    agent::CurlOptions o;
    o.base_url = "http://127.0.0.1:" + std::to_string(port);
    return must(agent::CurlTransport::create(o), "transport");
}

// A lawyer's enrollment code for `region`, issued on the server's own database.
std::string issue_code(const fs::path& data, const std::string& region) {
    auto store = must(srv::Store::open(data / "server.db"), "open the server store");
    return must(store->registry().create_code({k_lawyer, {region}, srv::Role::lawyer, 24}), "code");
}

void enroll(client::Engine& engine, int port, const std::string& code) {
    auto transport = transport_to(port);
    agent::SyncAgent a(engine, *transport);
    must(a.enroll({"http://127.0.0.1:" + std::to_string(port), code, std::nullopt}), "enroll");
}

std::int64_t server_event_count(const fs::path& data) {
    sqlite3* db = nullptr;
    std::int64_t n = -1;
    if (sqlite3_open_v2((data / "server.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) ==
        SQLITE_OK) {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM events", -1, &s, nullptr) == SQLITE_OK &&
            sqlite3_step(s) == SQLITE_ROW) {
            n = sqlite3_column_int64(s, 0);
        }
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return n;
}

std::string mib(double bytes) {
    return fmt(bytes / 1048576.0, 2) + " MiB";
}

// ---- recording ---------------------------------------------------------------------------

client::Engine open_engine(const fs::path& db) {
    return must(client::Engine::open(db), "open");
}

void record_consultations(const fs::path& db, std::int64_t n) {
    client::Engine engine = open_device(db);
    record_samples(engine, n, "record");
}

std::uint64_t mix(std::uint64_t x) { // splitmix64
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Kazakh text of a typical length (a question of 2–4 clauses, advice of 2–3), drawn from
// phrases a lawyer writes, so that compression sees repetition but not identical records.
std::string kazakh_text(std::uint64_t r, int parts) {
    static const char* const phrases[] = {
        "Жер телімін ресімдеу туралы сұрақ",
        "зейнетақы тағайындау мерзімі өтіп кетті",
        "алимент төленбей жатыр, бала үш жаста",
        "мұрагерлікке ену үшін нотариусқа бару керек",
        "несие бойынша қарыз өсіп кетті",
        "жұмыс берушi еңбекақыны үш ай төлемеген",
        "мүгедектік бойынша жәрдемақы тоқтатылды",
        "үй құжаттары әкесінің атында қалған",
        "ажырасу кезінде мүлікті бөлу мәселесі",
        "коллекторлар телефон соғып қорқытады",
        "әкімдікке өтініш жазу ұсынылды",
        "ХҚКО-ға құжаттармен бару қажет",
        "сотқа талап арыз дайындалды",
        "прокуратураға шағым беру мүмкін",
        "құжаттардың көшірмесін жинау керек",
        "келесі сапарда қайта кеңес беріледі",
    };
    std::string out;
    for (int i = 0; i < parts; ++i) {
        if (i > 0) {
            out += i % 2 ? ", " : ". ";
        }
        out += phrases[(r >> (i * 5)) % std::size(phrases)];
    }
    return out + ".";
}

struct Month {
    int consultations = 3000;
    int attendance = 15000;
    int photos = 1000;
    int visits = 22; // working days
};

void record_month(const fs::path& db, const fs::path& photo_dir, const Month& m) {
    client::Engine engine = open_engine(db);
    must(engine.init(k_lawyer, k_region), "init");
    const char* villages[] = {"Қызылжар", "Ақсу",   "Талапты", "Көктерек", "Жаңатұрмыс",
                              "Бірлік",   "Қарасу", "Ынтымақ", "Шұғыла",   "Саудакент"};
    for (const char* v : villages) {
        must(engine.add_village({v, k_region, std::nullopt, std::nullopt, std::nullopt}),
             "village");
    }
    fs::create_directories(photo_dir);
    int consult = 0, attend = 0, photo = 0;
    for (int day = 0; day < m.visits; ++day) {
        char date[32];
        std::snprintf(date, sizeof date, "2024-05-%02d", 1 + day);
        must(engine.start_visit(villages[day % std::size(villages)], std::string(date)), "visit");
        const int c_end = m.consultations * (day + 1) / m.visits;
        const int a_end = m.attendance * (day + 1) / m.visits;
        const int p_end = m.photos * (day + 1) / m.visits;
        must(engine.batch([&]() -> Result<void> {
            for (; consult < c_end; ++consult) {
                std::uint64_t r = mix(static_cast<std::uint64_t>(consult));
                client::ConsultationInput in =
                    sample_consultation(static_cast<std::uint64_t>(consult));
                in.question = kazakh_text(r, 2 + static_cast<int>(r % 3));
                in.advice = kazakh_text(r >> 20, 2 + static_cast<int>((r >> 40) % 2));
                in.lang = "kk";
                if (auto ok = engine.add_consultation(in); !ok) {
                    return tl::unexpected(ok.error());
                }
            }
            for (; attend < a_end; ++attend) {
                client::ConsultationInput like =
                    sample_consultation(static_cast<std::uint64_t>(attend) + 1000003);
                client::AttendanceInput in;
                in.person = like.person;
                in.count = 1;
                if (auto ok = engine.add_attendance(in); !ok) {
                    return tl::unexpected(ok.error());
                }
            }
            for (; photo < p_end; ++photo) {
                fs::path file = photo_dir / ("IMG_" + std::to_string(4000 + photo) + ".jpg");
                std::ofstream(file, std::ios::binary)
                    << "photo " << photo << " " << mix(static_cast<std::uint64_t>(photo));
                client::PhotoInput in;
                in.files = {file};
                in.caption = "Қабылдау кезіндегі сурет";
                in.consent = true;
                if (auto ok = engine.add_photos(in); !ok) {
                    return tl::unexpected(ok.error());
                }
            }
            return {};
        }),
             "record the month");
        must(engine.close_visit(std::nullopt), "close visit");
    }
}

std::int64_t own_events(const fs::path& db) {
    client::Engine engine = open_engine(db);
    auto device = must(engine.device(), "device");
    return must(engine.last_seq(device.id), "last seq");
}

// ---- loopback ----------------------------------------------------------------------------

struct Baseline {
    double wall_s = 0;
    std::int64_t requests = 0, bytes = 0;
    long server_peak_kb = 0;
};

Baseline bare_baseline(const fs::path& bodies_file, const fs::path& db) {
    BareServer server(db);
    CURL* c = curl_easy_init();
    const std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1/push";
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Content-Type: application/json; charset=utf-8");
    headers = curl_slist_append(headers, "Content-Encoding: zstd");
    std::string response;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(
        c, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) -> size_t {
            static_cast<std::string*>(out)->append(data, size * n);
            return size * n;
        });
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
    std::ifstream in(bodies_file, std::ios::binary);
    Baseline b;
    std::string body;
    const double t0 = now_s();
    for (;;) {
        std::uint64_t n = 0;
        if (!in.read(reinterpret_cast<char*>(&n), sizeof n)) {
            break;
        }
        body.resize(n);
        in.read(body.data(), static_cast<std::streamsize>(n));
        response.clear();
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(n));
        long status = 0;
        if (curl_easy_perform(c) != CURLE_OK ||
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
            bail("the bare baseline failed");
        }
        ++b.requests;
        b.bytes += static_cast<std::int64_t>(n);
    }
    b.wall_s = now_s() - t0;
    b.server_peak_kb = server.peak_kb();
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    return b;
}

int loopback(std::int64_t events) {
    print_title("sync_bench loopback: " + std::to_string(events) +
                " consultations recorded offline, then one sync to caravan-server on 127.0.0.1");
    ScratchDir dir;
    const fs::path device_db = dir / "device.db";
    double r0 = now_s();
    in_child("recording", [&] { record_consultations(device_db, events); });
    print_row("recording (forked, not timed below)", fmt(now_s() - r0, 1) + " s");
    const std::int64_t outbox = own_events(device_db);

    ServerProcess server(dir / "data");
    // open_device() records in "Ақтөбе обл."
    const std::string code = issue_code(dir / "data", "Ақтөбе обл.");
    agent::CurlGlobal curl_global;
    client::Engine engine = open_engine(device_db);
    enroll(engine, server.port(), code);

    auto curl = transport_to(server.port());
    RecordingTransport recording(*curl, dir / "bodies.bin");
    agent::SyncAgent sync_agent(engine, recording);
    const agent::TransferTotals before = curl->totals();
    const double cpu0 = cpu_s();
    const double server_cpu0 = server.cpu_s();
    const double t0 = now_s();
    agent::SyncReport report = sync_agent.sync({});
    const double wall = now_s() - t0;
    const double cpu = cpu_s() - cpu0;
    const double server_cpu = server.cpu_s() - server_cpu0;
    const long client_peak = self_max_rss_kb();
    const long server_peak = server.peak_kb();
    recording.close();
    if (!report.ok()) {
        bail("the sync failed: " + report.error->message);
    }
    const agent::TransferTotals after = curl->totals();
    const double up = static_cast<double>(after.bytes_sent - before.bytes_sent);
    const double down = static_cast<double>(after.bytes_received - before.bytes_received);
    server.stop();
    const std::int64_t held = server_event_count(dir / "data");

    print_row("events in the outbox / pushed / refused / held by the server",
              std::to_string(outbox) + " / " + std::to_string(report.pushed) + " / " +
                  std::to_string(report.rejected) + " / " + std::to_string(held));
    print_row("sync: wall", fmt(wall, 2) + " s = " + fmt(static_cast<double>(outbox) / wall, 0) +
                                " events/s (CPU: client " + fmt(cpu, 2) + " s, server " +
                                fmt(server_cpu, 2) + " s)");
    print_row("sync: requests",
              std::to_string(report.requests) + " (pulled " + std::to_string(report.pulled) + ")");
    print_row("sync: bytes up", mib(up) + " = " + fmt(up / static_cast<double>(outbox), 1) +
                                    " B/event (zstd, headers included)");
    print_row("sync: bytes down",
              mib(down) + " = " + fmt(down / static_cast<double>(outbox), 1) + " B/event");
    print_row("peak memory: client (this process, getrusage)",
              fmt(client_peak / 1024.0, 1) + " MB");
    print_row("peak memory: caravan-server (VmHWM)", fmt(server_peak / 1024.0, 1) + " MB");

    Baseline bare = bare_baseline(dir / "bodies.bin", dir / "bare.db");
    print_row("baseline: bare libcurl -> bare httplib + 1 SQLite row",
              fmt(bare.wall_s, 2) + " s for " + std::to_string(bare.requests) + " POSTs, " +
                  mib(static_cast<double>(bare.bytes)) + " = " +
                  fmt(static_cast<double>(outbox) / bare.wall_s, 0) + " events/s");
    print_row("baseline: bare server peak (VmHWM)", fmt(bare.server_peak_kb / 1024.0, 1) + " MB");
    print_row("ratio sync / baseline (wall)", fmt(wall / bare.wall_s, 2) + "x");
    print_load();
    return held == outbox && report.pushed == outbox ? 0 : 1;
}

// ---- the rural link --------------------------------------------------------------------------

struct LinkRun {
    std::string name;
    LinkProfile profile;
};

int link(const Month& month) {
    print_title("sync_bench link: a month offline (" + std::to_string(month.consultations) +
                " consultations, " + std::to_string(month.attendance) + " attendance, " +
                std::to_string(month.photos) + " photos) over 64 kbit/s, 500 ms RTT");
    ScratchDir dir;
    const fs::path master = dir / "month.db";
    double r0 = now_s();
    in_child("recording", [&] { record_month(master, dir / "photos", month); });
    print_row("recording (forked, not timed below)", fmt(now_s() - r0, 1) + " s");
    const std::int64_t outbox = own_events(master);
    print_row("events to push", std::to_string(outbox));

    LinkProfile clean;
    LinkProfile lossy = clean;
    lossy.segment_loss = 0.02;
    lossy.seed = 2;
    LinkProfile resets = clean;
    resets.reset_per_segment = 0.005;
    resets.seed = 3;
    const std::vector<LinkRun> runs = {
        {"no loss", clean},
        {"2% segment loss (retransmit after 700 ms)", lossy},
        {"resets (0.5% of segments cut the connection)", resets},
    };

    agent::CurlGlobal curl_global;
    int failures = 0;
    double clean_floor = 0; // the first run's: no loss
    for (const LinkRun& run : runs) {
        ScratchDir rdir;
        fs::copy_file(master, rdir / "device.db");
        ServerProcess server(rdir / "data");
        const std::string code = issue_code(rdir / "data", k_region);
        client::Engine engine = open_engine(rdir / "device.db");
        enroll(engine, server.port(), code); // once, at the office: not part of the backlog

        ShapingProxy proxy(server.port(), run.profile);
        agent::CurlOptions o;
        o.base_url = "http://127.0.0.1:" + std::to_string(proxy.port());
        auto transport = must(agent::CurlTransport::create(o), "transport");
        WatchingTransport watching(*transport);
        agent::SyncAgent sync_agent(engine, watching);
        agent::SyncOptions options;
        options.until = std::chrono::system_clock::now() + std::chrono::hours(2);
        const double t0 = now_s();
        agent::SyncReport report = sync_agent.sync(options);
        const double wall = now_s() - t0;
        const LinkStats st = proxy.stats();
        server.stop();
        const std::int64_t held = server_event_count(rdir / "data");
        if (!report.ok() || held != outbox) {
            ++failures;
        }
        const double rtt = 2 * run.profile.one_way_delay.count() / 1000.0;
        const double rate = run.profile.rate_bytes_per_s;
        const int trips = static_cast<int>(report.requests) + st.connections;
        const double floor = static_cast<double>(st.bytes_up + st.bytes_down) / rate + trips * rtt;
        print_row(run.name + ": result", std::string(report.ok() ? "ok" : "FAILED") + ", " +
                                             std::to_string(held) + " events held, " +
                                             std::to_string(report.rejected) + " refused, " +
                                             std::to_string(report.attempts) + " round(s)");
        print_row(run.name + ": time", fmt(wall, 1) + " s");
        print_row(run.name + ": bytes", fmt(static_cast<double>(st.bytes_up) / 1024.0, 1) +
                                            " KiB up, " +
                                            fmt(static_cast<double>(st.bytes_down) / 1024.0, 1) +
                                            " KiB down (through the link, resent bytes included)");
        print_row(run.name + ": round trips",
                  std::to_string(report.requests) + " requests + " +
                      std::to_string(st.connections) + " connection set-ups" +
                      (st.lost_segments ? ", " + std::to_string(st.lost_segments) + " lost segments"
                                        : std::string()) +
                      (st.resets ? ", " + std::to_string(st.resets) + " resets" : std::string()));
        print_row(run.name + ": floor (bytes/bandwidth + trips x RTT)",
                  fmt(floor, 1) + " s (" +
                      fmt(static_cast<double>(st.bytes_up + st.bytes_down) / rate, 1) + " s + " +
                      fmt(trips * rtt, 1) + " s)");
        print_row(run.name + ": ratio time / floor", fmt(wall / floor, 2) + "x (target <= 1.5x)");
        if (clean_floor == 0) {
            clean_floor = floor;
        } else {
            print_row(run.name + ": ratio time / loss-free floor",
                      fmt(wall / clean_floor, 2) + "x");
        }
        print_row(run.name + ": failed exchanges", watching.summary());
        print_row(run.name + ": by route", watching.by_route());
    }
    print_load();
    return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    bool quick = false;
    std::string what = "all";
    int divisor = 0; // the month divided by this (link only)
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick") {
            quick = true;
        } else if (a == "loopback" || a == "link" || a == "all") {
            what = a;
        } else if (what == "link" && std::atoi(a.c_str()) >= 1 && std::atoi(a.c_str()) <= 100) {
            divisor = std::atoi(a.c_str());
        } else {
            std::cerr << "usage: sync_bench [--quick] [loopback|link [DIVISOR 1-100]|all]\n";
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    print_machine();
    int rc = 0;
    if (what != "link") {
        rc |= loopback(quick ? 2000 : 100000);
    }
    if (what != "loopback") {
        Month month;
        if (quick) {
            month = {100, 500, 33, 3};
        } else if (divisor > 1) {
            month = {3000 / divisor, 15000 / divisor, 1000 / divisor, std::max(1, 22 / divisor)};
        }
        rc |= link(month);
    }
    return rc;
}
