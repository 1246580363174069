// The libcurl transport against a real HTTP server in this process (cpp-httplib): decoding,
// headers, keep-alive, and the mapping of network failures to our error codes.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/protocol.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
namespace ag = caravan::sync::agent;

namespace {

class LocalServer {
  public:
    LocalServer() {
        m_port = m_server.bind_to_any_port("127.0.0.1");
        m_thread = std::thread([this] { m_server.listen_after_bind(); });
        while (!m_server.is_running()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    ~LocalServer() {
        m_server.stop();
        m_thread.join();
    }
    httplib::Server& server() { return m_server; }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }

  private:
    httplib::Server m_server;
    int m_port = 0;
    std::thread m_thread;
};

int closed_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

std::unique_ptr<ag::CurlTransport> transport(const std::string& url, long low_speed_s = 60) {
    ag::CurlOptions o;
    o.base_url = url;
    o.low_speed_time_s = low_speed_s;
    o.max_response_bytes = 1 << 20;
    auto t = ag::CurlTransport::create(o);
    REQUIRE(t);
    return std::move(*t);
}

} // namespace

TEST_CASE("curl transport: zstd responses are decoded, request bodies and headers go as given, "
          "one connection serves many requests",
          "[agent][curl]") {
    LocalServer local;
    std::string seen_accept, seen_encoding, seen_body, seen_protocol;
    std::set<int> client_ports;
    std::mutex mutex;
    local.server().Post("/v1/echo", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex);
        seen_accept = req.get_header_value("Accept-Encoding");
        seen_encoding = req.get_header_value("Content-Encoding");
        seen_protocol = req.get_header_value("X-Caravan-Protocol");
        seen_body = req.body;
        client_ports.insert(req.remote_port);
        std::string text = R"({"ok":true,"pad":")" + std::string(5000, 'x') + "\"}";
        auto packed = sync::compress(text, sync::Encoding::zstd);
        res.set_header("Content-Encoding", "zstd");
        res.set_header("Retry-After", "7");
        res.set_content(*packed, "application/json; charset=utf-8");
    });
    auto t = transport(local.url());
    std::string body = *sync::compress(R"({"device_id":"d","events":[]})", sync::Encoding::zstd);
    for (int i = 0; i < 3; ++i) {
        ag::HttpRequest req{
            "POST", "/v1/echo", {{"Content-Encoding", "zstd"}, {"X-Caravan-Protocol", "1"}}, body};
        auto r = t->send(req);
        REQUIRE(r);
        REQUIRE(r->status == 200);
        REQUIRE(r->body.size() > 5000);
        REQUIRE(r->body.starts_with(R"({"ok":true)"));
        REQUIRE(r->header("Retry-After") == "7");
        REQUIRE(r->header("content-encoding") == "zstd");
    }
    REQUIRE(seen_accept.find("zstd") != std::string::npos);
    REQUIRE(seen_accept.find("gzip") != std::string::npos);
    REQUIRE(seen_encoding == "zstd");
    REQUIRE(seen_protocol == "1");
    REQUIRE(seen_body == body);        // zstd request bodies arrive as sent
    REQUIRE(client_ports.size() == 1); // keep-alive
    REQUIRE(t->totals().bytes_sent > 3 * static_cast<std::int64_t>(body.size()));
    REQUIRE(t->totals().bytes_received > 0);
    // On the wire the response stayed compressed: far fewer bytes than the 5000-byte body.
    REQUIRE(t->totals().bytes_received < 3 * 2000);
}

TEST_CASE("curl transport: bytes sent count each request body once, small or large",
          "[agent][curl]") {
    LocalServer local;
    std::int64_t bodies = 0;
    std::mutex mutex;
    local.server().Post("/v1/echo", [&](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex);
        bodies += static_cast<std::int64_t>(req.body.size());
        res.set_content("{}", "application/json");
    });
    auto t = transport(local.url());
    std::mt19937 rng(5);
    // Below and above libcurl's 64 KiB limit for sending the body with the head.
    for (std::size_t size : {std::size_t{20000}, std::size_t{100000}}) {
        std::string body(size, '\0');
        for (char& c : body) {
            c = static_cast<char>(rng());
        }
        ag::TransferTotals before = t->totals();
        auto r =
            t->send({"POST", "/v1/echo", {{"Content-Type", "application/octet-stream"}}, body});
        REQUIRE(r);
        REQUIRE(r->status == 200);
        std::int64_t sent = t->totals().bytes_sent - before.bytes_sent;
        INFO("body " << size << " bytes, counted " << sent);
        CHECK(sent > static_cast<std::int64_t>(size));
        CHECK(sent < static_cast<std::int64_t>(size) + 2048); // the head is a few hundred bytes
    }
    REQUIRE(bodies == 120000);
}

TEST_CASE("curl transport: failures map to offline, timeout and protocol", "[agent][curl]") {
    SECTION("nothing listens: offline") {
        auto t = transport("http://127.0.0.1:" + std::to_string(closed_port()));
        auto r = t->send({"GET", "/v1/status", {}, {}});
        REQUIRE(!r);
        REQUIRE(r.error().code == ErrorCode::offline);
    }
    SECTION("the server stalls: timeout after the low-speed window") {
        LocalServer local;
        local.server().Get("/v1/slow", [](const httplib::Request&, httplib::Response& res) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2500));
            res.set_content("{}", "application/json");
        });
        auto t = transport(local.url(), 1);
        auto started = std::chrono::steady_clock::now();
        auto r = t->send({"GET", "/v1/slow", {}, {}});
        REQUIRE(!r);
        REQUIRE(r.error().code == ErrorCode::timeout);
        REQUIRE(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(2400));
    }
    SECTION("a body beyond the limit: protocol") {
        LocalServer local;
        local.server().Get("/v1/huge", [](const httplib::Request&, httplib::Response& res) {
            res.set_content(std::string(2 << 20, ' '), "application/json");
        });
        auto r = transport(local.url())->send({"GET", "/v1/huge", {}, {}});
        REQUIRE(!r);
        REQUIRE(r.error().code == ErrorCode::protocol);
    }
    SECTION("an error status is a response, not a failure") {
        LocalServer local;
        local.server().Get("/v1/busy", [](const httplib::Request&, httplib::Response& res) {
            res.status = 503;
            res.set_content(R"({"error":{"code":"unavailable","message":"x"}})",
                            "application/json");
        });
        auto r = transport(local.url())->send({"GET", "/v1/busy", {}, {}});
        REQUIRE(r);
        REQUIRE(r->status == 503);
    }
    SECTION("a bad URL is bad input") {
        ag::CurlOptions o;
        o.base_url = "gopher://x";
        REQUIRE(ag::CurlTransport::create(o).error().code == ErrorCode::invalid_input);
    }
}

TEST_CASE("curl transport: https with a private CA works with --ca-file and is refused without",
          "[agent][curl]") {
    caravan::test::TempDir dir;
    auto cert = (dir / "cert.pem").string();
    auto key = (dir / "key.pem").string();
    auto made = caravan::test::run_process(
        {"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert});
    if (made.exit_code != 0) {
        WARN("openssl could not make a test certificate; skipped: " << made.err);
        return;
    }
    httplib::SSLServer server(cert.c_str(), key.c_str());
    REQUIRE(server.is_valid());
    server.Get("/v1/status", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(R"({"ok":true})", "application/json; charset=utf-8");
    });
    int port = server.bind_to_any_port("127.0.0.1");
    std::thread thread([&] { server.listen_after_bind(); });
    while (!server.is_running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::string url = "https://127.0.0.1:" + std::to_string(port);
    {
        ag::CurlOptions o;
        o.base_url = url;
        o.ca_file = cert;
        auto t = ag::CurlTransport::create(o);
        REQUIRE(t);
        auto r = (*t)->send({"GET", "/v1/status", {}, {}});
        INFO((r ? std::string() : r.error().message));
        REQUIRE(r);
        REQUIRE(r->status == 200);
    }
    {
        ag::CurlOptions o;
        o.base_url = url;
        auto t = ag::CurlTransport::create(o);
        auto r = (*t)->send({"GET", "/v1/status", {}, {}});
        REQUIRE(!r);
        REQUIRE(r.error().code == ErrorCode::protocol);
        REQUIRE(r.error().message.find("--ca-file") != std::string::npos);
    }
    server.stop();
    thread.join();
}
