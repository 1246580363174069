// The server under hostile clients (docs/security.md "Resource exhaustion"): a real
// `caravan-server serve` process with its default limits, attacked in turn by N clients of one
// kind each, while a legitimate device syncs (push a batch, pull, status) a few times. Prints,
// per attack, the server's peak resident set during it (VmHWM, reset between attacks through
// /proc/<pid>/clear_refs) and the device's sync time, next to both on a quiet server.
//
// Attacks (all from 127.0.0.2, the device from 127.0.0.1):
//   big-json      N clients posting 8 MiB of `[{},{},...]` to /v1/enroll, no token, in a loop
//   max-values    N clients posting the largest JSON the limits accept (values at the limit)
//   header-flood  N clients sending 1 MiB of header lines, in a loop
//   slow-loris    N connections trickling a header byte every second, reconnecting when cut
//   slow-rotate   N POST /v1/rotate with a valid token whose body never finishes
//   code-guess    N concurrent wrong enrollment codes, in a loop
//
// usage: server_dos_bench [seconds-per-attack=6] [scale=1]   (scale multiplies every N)
// Prints figures; asserts nothing.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "server_process.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;
using nlohmann::json;

namespace {

constexpr std::int64_t k_day_ms = 1715680800000;
const std::string k_region = "Жамбыл обл.";

std::string new_id() {
    static std::atomic<std::int64_t> tick{0};
    return client::uuid_v7(k_day_ms + tick.fetch_add(1));
}

// ---- raw connections from 127.0.0.2 ------------------------------------------------------------

int connect_from(int port, const char* source) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    sockaddr_in from{};
    from.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        ::close(fd);
        return -1;
    }
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

bool send_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// Reads the answer's status code (0 when none came).
int read_status(int fd) {
    char buf[512];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 12) {
        return 0;
    }
    return std::atoi(buf + 9);
}

std::string post_head(const std::string& path, const std::string& token, std::size_t length) {
    std::string head = "POST " + path +
                       " HTTP/1.1\r\nHost: b\r\nX-Caravan-Protocol: 1\r\n"
                       "Content-Type: application/json\r\n";
    if (!token.empty()) {
        head += "Authorization: Bearer " + token + "\r\n";
    }
    return head + "Content-Length: " + std::to_string(length) + "\r\n\r\n";
}

// ---- the legitimate device ---------------------------------------------------------------------

struct Device {
    std::string id;
    std::string token;
    std::int64_t seq = 0;
};

Device enroll(const ServerProcess& server) {
    Device d{new_id(), "", 0};
    d.token = server.enroll(d.id, k_region);
    return d;
}

storage::Event village(Device& d) {
    storage::Event e;
    e.device_id = d.id;
    e.seq = ++d.seq;
    e.hlc = (k_day_ms + d.seq) << 16;
    e.entity_type = "village";
    e.entity_id = new_id();
    e.op = "create";
    e.payload = sync::canonical_payload(
        json{{"fields", {{"name", "Ауыл " + std::to_string(d.seq)}, {"region", k_region}}}});
    e.schema_version = 1;
    return e;
}

// Push 50 events, pull the feed's first page, status; seconds, or -1 when a request failed
// (15 s client timeouts).
double sync_once(int port, Device& d) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(15);
    c.set_read_timeout(15);
    c.set_write_timeout(15);
    httplib::Headers h{{"Authorization", "Bearer " + d.token}, {"X-Caravan-Protocol", "1"}};
    sync::PushRequest push{d.id, {}};
    if (d.seq == 0) {
        storage::Event self = village(d);
        self.entity_type = "device";
        self.entity_id = d.id;
        self.payload = sync::canonical_payload(
            json{{"fields", {{"lawyer", "Bench"}, {"region", k_region}, {"deleted", false}}}});
        push.events.push_back(self);
    }
    while (push.events.size() < 50) {
        push.events.push_back(village(d));
    }
    double t0 = now_s();
    auto pushed = c.Post("/v1/push", h, sync::to_json(push).dump(), "application/json");
    auto pulled = c.Get("/v1/pull?after=0&limit=200", h);
    auto status = c.Get("/v1/status", h);
    if (!pushed || pushed->status != 200 || !pulled || pulled->status != 200 || !status ||
        status->status != 200) {
        return -1;
    }
    return now_s() - t0;
}

// ---- attacks -----------------------------------------------------------------------------------

struct Attack {
    std::string name;
    int clients;
    // Runs one client until `stop`; counts what it did in `done`.
    std::function<void(int port, std::atomic<bool>& stop, std::atomic<long>& done)> client;
};

std::string empty_objects_body() {
    std::string body = "[";
    while (body.size() + 4 < sync::Limits::max_body_bytes) {
        body += "{},";
    }
    return body + "{}]";
}

// The largest body the value limit lets through: distinct keys, each an empty object.
std::string max_values_body() {
    std::string body = "{";
    std::size_t members = (sync::Limits::max_json_values - 1) / 2;
    for (std::size_t i = 0; i < members; ++i) {
        body += (i ? ",\"" : "\"") + std::to_string(i) + "\":{}";
    }
    return body + "}";
}

void post_loop(int port, const std::string& path, const std::string& body, std::atomic<bool>& stop,
               std::atomic<long>& done) {
    while (!stop) {
        int fd = connect_from(port, "127.0.0.2");
        if (fd < 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        if (send_all(fd, post_head(path, "", body.size())) && send_all(fd, body)) {
            (void)read_status(fd);
        }
        ::close(fd);
        ++done;
    }
}

} // namespace

int main(int argc, char** argv) {
    const double seconds = argc > 1 ? std::atof(argv[1]) : 6.0;
    const int scale = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
    ::signal(SIGPIPE, SIG_IGN);
    ScratchDir dir;
    ServerProcess server(dir / "");
    Device device = enroll(server);
    Device rotating = enroll(server);
    const int port = server.port();

    const std::string big = empty_objects_body();
    const std::string max_values = max_values_body();
    std::string flood = "GET /v1/health HTTP/1.1\r\nHost: b\r\n";
    while (flood.size() < (1u << 20)) {
        flood += "X-Flood: " + std::string(100, 'f') + "\r\n";
    }
    const std::string guess = json{{"code", "AAA-BBB-CCC"}, {"device_id", new_id()}}.dump();

    std::vector<Attack> attacks = {
        {"big-json (8 MiB of {})", 6 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             post_loop(p, "/v1/enroll", big, stop, done);
         }},
        {"max-values JSON (accepted shape)", 6 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             post_loop(p, "/v1/enroll", max_values, stop, done);
         }},
        {"header-flood (1 MiB of headers)", 6 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             while (!stop) {
                 int fd = connect_from(p, "127.0.0.2");
                 if (fd < 0) {
                     continue;
                 }
                 (void)send_all(fd, flood);
                 (void)read_status(fd);
                 ::close(fd);
                 ++done;
             }
         }},
        {"slow-loris (1 byte/s)", 600 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             int fd = -1;
             while (!stop) {
                 if (fd < 0) {
                     fd = connect_from(p, "127.0.0.2");
                     ++done;
                 }
                 if (fd >= 0 && !send_all(fd, "G")) {
                     ::close(fd);
                     fd = -1;
                     continue;
                 }
                 std::this_thread::sleep_for(std::chrono::seconds(1));
             }
             if (fd >= 0) {
                 ::close(fd);
             }
         }},
        {"slow-rotate bodies (valid token)", 64 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             int fd = connect_from(p, "127.0.0.2");
             if (fd >= 0 && send_all(fd, post_head("/v1/rotate", rotating.token, 200)) &&
                 send_all(fd, "{\"device_id\":")) {
                 ++done;
             }
             while (!stop) {
                 std::this_thread::sleep_for(std::chrono::milliseconds(100));
             }
             if (fd >= 0) {
                 ::close(fd);
             }
         }},
        {"code-guess (concurrent wrong codes)", 200 * scale,
         [&](int p, std::atomic<bool>& stop, std::atomic<long>& done) {
             while (!stop) {
                 int fd = connect_from(p, "127.0.0.2");
                 if (fd < 0) {
                     continue;
                 }
                 if (send_all(fd, post_head("/v1/enroll", "", guess.size())) &&
                     send_all(fd, guess) && read_status(fd) == 403) {
                     ++done; // a guess the server evaluated
                 }
                 ::close(fd);
             }
         }},
    };

    print_title("server_dos_bench: caravan-server (default limits, 64 threads) under hostile "
                "clients, " +
                fmt(seconds, 0) + " s each");
    print_machine();

    auto measure = [&](const std::string& label, int runs) {
        std::vector<double> times;
        int failed = 0;
        for (int i = 0; i < runs; ++i) {
            double t = sync_once(port, device);
            if (t < 0) {
                ++failed;
            } else {
                times.push_back(t);
            }
        }
        Summary s = summarize(times);
        print_row(label + ": device sync (push 50, pull, status)",
                  (times.empty() ? std::string("none completed") : fmt_ms(s)) +
                      (failed ? "  failed " + std::to_string(failed) : ""));
    };

    server.reset_peak();
    long idle_kib = server.kib("VmRSS");
    measure("quiet", 10);
    print_row("quiet: server peak RSS", fmt(server.kib("VmHWM") / 1024.0, 1) + " MiB (idle " +
                                            fmt(idle_kib / 1024.0, 1) + " MiB)");

    for (const Attack& attack : attacks) {
        server.reset_peak();
        const long start_kib = server.kib("VmRSS");
        std::atomic<bool> stop{false};
        std::atomic<long> done{0};
        std::vector<std::thread> clients;
        for (int i = 0; i < attack.clients; ++i) {
            clients.emplace_back([&] { attack.client(port, stop, done); });
        }
        double t0 = now_s();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        std::vector<double> times;
        int failed = 0;
        while (now_s() - t0 < seconds) {
            double t = sync_once(port, device);
            if (t < 0) {
                ++failed;
            } else {
                times.push_back(t);
            }
        }
        httplib::Client hc("127.0.0.1", port);
        hc.set_read_timeout(5);
        auto health = hc.Get("/v1/health");
        stop = true;
        for (auto& t : clients) {
            t.join();
        }
        // The peak includes the requests the clients had in flight when told to stop.
        long peak = server.kib("VmHWM");
        // Let the server settle (bounded) so that the next attack starts from a quiet heap.
        for (int i = 0; i < 20 && server.kib("VmRSS") > idle_kib + 16 * 1024; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        std::string label = attack.name + " x" + std::to_string(attack.clients);
        print_row(label + ": device sync",
                  (times.empty() ? std::string("none completed") : fmt_ms(summarize(times))) +
                      (failed ? "  failed " + std::to_string(failed) : ""));
        print_row(label + ": server peak RSS", fmt(peak / 1024.0, 1) + " MiB (at the start " +
                                                   fmt(start_kib / 1024.0, 1) + " MiB)");
        print_row(label + ": attacker requests/connections", std::to_string(done.load()));
        print_row(label + ": /v1/health at the end",
                  health ? std::to_string(health->status) + " " +
                               json::parse(health->body, nullptr, false)
                                   .value("saturated", json::array())
                                   .dump()
                         : std::string("no answer"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    print_row("after all attacks: server RSS", fmt(server.kib("VmRSS") / 1024.0, 1) + " MiB");
    print_load();
    return 0;
}
