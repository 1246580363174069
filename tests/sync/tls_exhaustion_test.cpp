// Resource limits on the HTTPS port (docs/security.md "Resource exhaustion"): the real
// `caravan-server serve --tls-cert/--tls-key` with a short header deadline. A handshake that
// never completes is cut at the deadline (it held a worker for the 30 s read timeout before),
// and connections beyond the per-address cap are closed at once, while a device from another
// address is still served.
#include "loopback.hpp"
#include "tls_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <httplib.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::tls;
using Clock = std::chrono::steady_clock;

namespace {

int connect_from(int port, const char* source) {
    int fd = test::connect_loopback(port, source);
    REQUIRE(fd >= 0);
    return fd;
}

// Seconds until the server closes `fd` (recv returns 0 or an error), at most `limit`.
double seconds_until_closed(int fd, double limit) {
    const auto start = Clock::now();
    for (;;) {
        double spent = std::chrono::duration<double>(Clock::now() - start).count();
        if (spent >= limit) {
            return spent;
        }
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>((limit - spent) * 1000) + 1) > 0) {
            char buf[256];
            if (::recv(fd, buf, sizeof buf, 0) <= 0) {
                return std::chrono::duration<double>(Clock::now() - start).count();
            }
        }
    }
}

} // namespace

TEST_CASE_METHOD(
    PkiDir,
    "tls resources: a handshake that never completes is cut at the header deadline, and "
    "connections over the per-address cap are closed at once",
    "[sync][e2e][tls][resources]") {
    auto [cert, key] = pki.leaf("server", "IP:127.0.0.1");
    ServeProcess server(dir / "server",
                        {"--tls-cert", cert.string(), "--tls-key", key.string(), "--header-timeout",
                         "3", "--max-connections-per-address", "4"});
    REQUIRE(server.start());

    // Half a TLS record header, then nothing.
    int stalled = connect_from(server.port(), "127.0.0.2");
    REQUIRE(::send(stalled, "\x16\x03", 2, MSG_NOSIGNAL) == 2);
    std::vector<int> idle;
    for (int i = 0; i < 3; ++i) {
        idle.push_back(connect_from(server.port(), "127.0.0.2"));
    }
    // A device from another address is served meanwhile; its health requests also say when the
    // server has taken in the four connections above (it counts them on its own threads, which
    // a loaded machine may run late: the fifth must not overtake them).
    httplib::SSLClient client("127.0.0.1", server.port());
    client.set_ca_cert_path(pki.ca_pem.string().c_str());
    client.enable_server_certificate_verification(true);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    for (int i = 0; i < 100; ++i) {
        auto counted = client.Get("/v1/health");
        if (counted && nlohmann::json::parse(counted->body, nullptr, false)
                               .value("/connections/open"_json_pointer, 0) >= 5) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    // The fifth from the same address is closed without a byte read (no TLS to answer in).
    // "At once" is told from "at the 3 s header deadline" with room for a loaded machine.
    int extra = connect_from(server.port(), "127.0.0.2");
    CHECK(seconds_until_closed(extra, 5.0) < 1.5);

    auto health = client.Get("/v1/health");
    REQUIRE(health);
    CHECK(health->status == 200);

    CHECK(seconds_until_closed(stalled, 8.0) < 5.0);
    for (int fd : idle) {
        CHECK(seconds_until_closed(fd, 8.0) < 5.0);
        ::close(fd);
    }
    ::close(stalled);
    ::close(extra);
    CHECK(server.running());
}
