#include "loopback.hpp"
#include "server_test_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

using namespace caravan;
using namespace caravan::test::server;

namespace {

std::string compressed(const std::string& text, sync::Encoding e) {
    auto packed = sync::compress(text, e);
    REQUIRE(packed);
    return *packed;
}

// Sends only the head of a request announcing `length` body bytes, and returns the status line
// the server answers with before any body byte is sent.
std::string answer_to_announced_length(int port, std::size_t length, const std::string& token) {
    int fd = test::connect_loopback(port);
    REQUIRE(fd >= 0);
    std::string head =
        "POST /v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Caravan-Protocol: 1\r\n"
        "Authorization: Bearer " +
        token + "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(length) +
        "\r\n\r\n";
    REQUIRE(::send(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    ::close(fd);
    if (n <= 0) {
        return "no answer";
    }
    std::string text(buf, static_cast<std::size_t>(n));
    return text.substr(0, text.find("\r\n"));
}

// A GET whose head is written by hand (HTTP client libraries may drop a header with an empty
// value); `extra` holds whole header lines. Returns the status line.
std::string raw_get(int port, const std::string& target, const std::string& token,
                    const std::string& extra) {
    int fd = test::connect_loopback(port);
    REQUIRE(fd >= 0);
    std::string head = "GET " + target +
                       " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Caravan-Protocol: 1\r\n"
                       "Authorization: Bearer " +
                       token + "\r\n" + extra + "Connection: close\r\n\r\n";
    REQUIRE(::send(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string text;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) { // until the server closes (Connection: close)
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text.substr(0, text.find("\r\n"));
}

std::string push_body(const std::string& device, std::size_t padding) {
    Events ev(device);
    auto e = ev.village(new_id(), std::string(padding, 'x'), k_region_a);
    return sync::to_json(batch(device, {e})).dump();
}

} // namespace

TEST_CASE("server limits: a body over the limit is 413 and the server still answers", "[server]") {
    TestServer server;
    Device d = server.enroll({k_region_a});
    std::string answer =
        answer_to_announced_length(server.port(), sync::Limits::max_body_bytes + 1, d.token);
    CHECK(answer.find(" 413 ") != std::string::npos);

    // Also when the client actually sends it (9 MiB of valid-looking JSON).
    Http http(server.port());
    std::string huge = "{\"device_id\":\"" + d.id + "\",\"events\":[],\"pad\":\"" +
                       std::string(9 << 20, 'x') + "\"}";
    Reply r = http.post("/v1/push", d.token, huge);
    if (r.status != 0) { // the server may close before the client finished sending
        CHECK(r.status == 413);
        CHECK(r.code() == "too_large");
    }
    Http fresh(server.port());
    CHECK(fresh.get("/v1/status", d.token).status == 200);
    CHECK(server.event_count() == 0);
}

TEST_CASE("server limits: malformed JSON, deep nesting and long strings are 400", "[server]") {
    TestServer server;
    Device d = server.enroll({k_region_a});
    Http http(server.port());
    Reply bad = http.post("/v1/push", d.token, "{\"device_id\": ");
    CHECK(bad.status == 400);
    CHECK(bad.code() == "malformed");
    std::string deep = "{\"device_id\":\"" + d.id + "\",\"events\":" + std::string(200, '[') +
                       std::string(200, ']') + "}";
    Reply nested = http.post("/v1/push", d.token, deep);
    CHECK(nested.status == 400);
    CHECK(nested.body["error"]["message"].get<std::string>().find("nested") != std::string::npos);
    Reply long_string = http.post("/v1/push", d.token, push_body(d.id, 100000));
    CHECK(long_string.status == 400);
    CHECK(http.post("/v1/push", d.token, "[1,2,3]").status == 400);
    CHECK(http.post("/v1/push", d.token,
                    json{{"device_id", d.id}, {"events", {{{"seq", "x"}}}}}.dump())
              .status == 400);
    CHECK(server.event_count() == 0);
}

TEST_CASE_METHOD(OneDevice, "server limits: more events than a push may carry is 413", "[server]") {
    std::vector<storage::Event> events;
    for (std::size_t i = 0; i <= sync::Limits::max_events_per_push; ++i) {
        events.push_back(ev.make("village", new_id(), {{"name", "v"}, {"region", k_region_a}}));
    }
    Reply r = http.push(d.token, batch(d.id, events));
    CHECK(r.status == 413);
    CHECK(r.code() == "too_large");
    CHECK(server.event_count() == 0);
}

TEST_CASE("server limits: zstd and gzip bombs are 413, broken compressed bodies 400", "[server]") {
    TestServer server;
    Device d = server.enroll({k_region_a});
    Http http(server.port());
    // 64 MiB of spaces after a valid start: tiny when compressed.
    std::string bomb =
        "{\"device_id\":\"" + d.id + "\",\"events\":[]" + std::string(64 << 20, ' ') + "}";
    for (auto [name, encoding] :
         {std::pair{"zstd", sync::Encoding::zstd}, std::pair{"gzip", sync::Encoding::gzip}}) {
        INFO(name);
        std::string packed = compressed(bomb, encoding);
        CHECK(packed.size() < (1 << 20));
        Reply r = http.post("/v1/push", d.token, packed, {{"Content-Encoding", name}});
        CHECK(r.status == 413);
        CHECK(r.code() == "too_large");
        Http fresh(server.port());
        CHECK(fresh.get("/v1/status", d.token).status == 200);
    }
    Http http2(server.port());
    CHECK(http2.post("/v1/push", d.token, "definitely not zstd", {{"Content-Encoding", "zstd"}})
              .status == 400);
    Http http3(server.port());
    CHECK(http3.post("/v1/push", d.token, "definitely not gzip", {{"Content-Encoding", "gzip"}})
              .status == 400);
    Http http4(server.port());
    CHECK(http4.post("/v1/push", d.token, "{}", {{"Content-Encoding", "br"}}).status == 400);
    CHECK(server.event_count() == 0);
}

TEST_CASE_METHOD(OneDevice, "server limits: gzip and zstd request bodies are accepted",
                 "[server]") {
    std::string one = sync::to_json(batch(d.id, {ev.self("A", k_region_a)})).dump();
    Reply z = http.post("/v1/push", d.token, compressed(one, sync::Encoding::zstd),
                        {{"Content-Encoding", "zstd"}});
    CHECK(z.status == 200);
    CHECK(z.body["acked_seq"] == 1);
    std::string two = sync::to_json(batch(d.id, {ev.village(new_id(), "V", k_region_a)})).dump();
    Reply g = http.post("/v1/push", d.token, compressed(two, sync::Encoding::gzip),
                        {{"Content-Encoding", "gzip"}});
    CHECK(g.status == 200);
    CHECK(g.body["acked_seq"] == 2);
    CHECK(server.event_count() == 2);
}

TEST_CASE_METHOD(OneDevice, "server limits: responses are compressed as the client asks",
                 "[server]") {
    std::vector<storage::Event> events{ev.self("A", k_region_a)};
    for (int i = 0; i < 50; ++i) {
        events.push_back(ev.village(new_id(), "Ауыл " + std::to_string(i), k_region_a));
    }
    REQUIRE(http.push(d.token, batch(d.id, events)).status == 200);

    Reply z = http.get("/v1/pull?after=0", d.token, {{"Accept-Encoding", "zstd"}});
    REQUIRE(z.status == 200);
    CHECK(z.header("Content-Encoding") == "zstd");
    CHECK(z.body["events"].size() == 51); // decoded by the helper

    Reply g = http.get("/v1/pull?after=0", d.token, {{"Accept-Encoding", "gzip"}});
    REQUIRE(g.status == 200);
    CHECK(g.header("Content-Encoding") == "gzip");
    CHECK(g.body["events"].size() == 51); // cpp-httplib inflated it

    Reply plain = http.get("/v1/pull?after=0", d.token, {{"Accept-Encoding", "identity"}});
    REQUIRE(plain.status == 200);
    CHECK(plain.header("Content-Encoding").empty());
    CHECK(plain.body["events"].size() == 51);
    CHECK(plain.header("Content-Type") == "application/json; charset=utf-8");
}

TEST_CASE("server limits: unknown endpoints answer a JSON 404", "[server]") {
    TestServer server;
    Http http(server.port());
    Reply r = http.get("/v2/pull");
    CHECK(r.status == 404);
    CHECK(r.code() == "not_found");
}

TEST_CASE_METHOD(OneDevice,
                 "server log: one access line per request, with no names or record content",
                 "[server]") {
    const std::string secret = "Гүлнар Сапарова, отбасылық зорлық";
    std::string village = new_id(), visit = new_id();
    REQUIRE(
        http.push(d.token,
                  batch(d.id, {ev.self("Test Lawyer", k_region_a),
                               ev.village(village, "Ауыл", k_region_a), ev.visit(visit, village),
                               ev.consultation(new_id(), visit, "female", secret),
                               ev.consultation(new_id(), visit, "martian", secret)}),
                  {{"X-Caravan-Queue-Depth", "3"},
                   {"X-Caravan-Oldest-Unsynced", "2024-05-14T10:00:00Z"},
                   {"X-Caravan-App-Version", "caravan/0.1.0"}})
            .status == 200);
    REQUIRE(http.post("/v1/push", d.token, "{broken").status == 400);
    // A worker writes its access line after the response has gone out: under load the client
    // can get here first. Wait (bounded) for both push lines before reading the log.
    auto count_push = [&] {
        auto all = server.log_lines();
        return std::count_if(all.begin(), all.end(), [](const std::string& l) {
            return l.find("/v1/push") != std::string::npos;
        });
    };
    for (int i = 0; i < 200 && count_push() < 2; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto lines = server.log_lines();
    int push_lines = 0;
    for (const auto& line : lines) {
        CHECK(line.find("Гүлнар") == std::string::npos);
        CHECK(line.find("Test Lawyer") == std::string::npos);
        CHECK(line.find(d.token) == std::string::npos);
        if (line.find("route=/v1/push") != std::string::npos) {
            ++push_lines;
            CHECK(line.find("device=" + client::short_id(d.id)) != std::string::npos);
            CHECK(line.find(" in=") != std::string::npos);
            CHECK(line.find(" ms=") != std::string::npos);
        }
    }
    CHECK(push_lines == 2);
    CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
        return l.find("status=400") != std::string::npos &&
               l.find("code=malformed") != std::string::npos;
    }));

    // The device's report reached the device list.
    auto devices = server.store()->registry().devices();
    REQUIRE(devices);
    REQUIRE(devices->size() == 1);
    CHECK(devices->front().queue_depth == 3);
    CHECK(devices->front().oldest_unsynced == "2024-05-14T10:00:00Z");
    CHECK(devices->front().app_version == "caravan/0.1.0");
    CHECK(devices->front().last_sync_ms);
    CHECK(devices->front().acked_seq == 5);
}

TEST_CASE_METHOD(
    OneDevice,
    "server: an empty X-Caravan-Oldest-Unsynced is read as absent, queue depth 0 clears it",
    "[server]") {
    REQUIRE(http.push(d.token, batch(d.id, {ev.self("Test Lawyer", k_region_a)}),
                      {{"X-Caravan-Queue-Depth", "3"},
                       {"X-Caravan-Oldest-Unsynced", "2024-05-14T10:00:00Z"}})
                .status == 200);
    auto device = [&] {
        auto devices = server.store()->registry().devices();
        REQUIRE(devices);
        REQUIRE(devices->size() == 1);
        return devices->front();
    };
    REQUIRE(device().oldest_unsynced == "2024-05-14T10:00:00Z");

    // Empty (or blank) with no depth: nothing is said, what the server knew stays.
    for (const char* line :
         {"X-Caravan-Oldest-Unsynced:\r\n", "X-Caravan-Oldest-Unsynced:   \r\n"}) {
        INFO(line);
        REQUIRE(raw_get(server.port(), "/v1/pull?after=0", d.token, line) == "HTTP/1.1 200 OK");
        CHECK(device().oldest_unsynced == "2024-05-14T10:00:00Z");
        CHECK(device().queue_depth == 3);
    }
    // The same as leaving the header out.
    REQUIRE(http.get("/v1/pull?after=0", d.token).status == 200);
    CHECK(device().oldest_unsynced == "2024-05-14T10:00:00Z");

    // A newer time replaces it; then "nothing unsynced" (depth 0, empty oldest) clears it.
    REQUIRE(http.get("/v1/pull?after=0", d.token,
                     {{"X-Caravan-Queue-Depth", "1"},
                      {"X-Caravan-Oldest-Unsynced", "2024-05-15T08:30:00Z"}})
                .status == 200);
    CHECK(device().oldest_unsynced == "2024-05-15T08:30:00Z");
    REQUIRE(raw_get(server.port(), "/v1/pull?after=0", d.token,
                    "X-Caravan-Queue-Depth: 0\r\nX-Caravan-Oldest-Unsynced:\r\n") ==
            "HTTP/1.1 200 OK");
    CHECK(device().queue_depth == 0);
    CHECK_FALSE(device().oldest_unsynced.has_value());
}

TEST_CASE("server: a request is served while every worker is held by a connection sending its body "
          "slowly",
          "[server]") {
    srv::ServerOptions options;
    options.threads = 2;
    TestServer server(options);
    // Three devices (more than the two workers) start an enrollment and send the head only, as a
    // stalled rural link would: each holds its worker, which waits for the body (30 s).
    std::vector<int> stalled;
    for (int i = 0; i < 3; ++i) {
        int fd = test::connect_loopback(server.port());
        REQUIRE(fd >= 0);
        std::string head =
            "POST /v1/enroll HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Caravan-Protocol: 1\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        REQUIRE(::send(fd, head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()));
        stalled.push_back(fd);
    }
    // Another device is answered well before any of those bodies times out.
    httplib::Client client("127.0.0.1", server.port());
    client.set_connection_timeout(std::chrono::seconds(10));
    client.set_read_timeout(std::chrono::seconds(15));
    auto r = client.Get("/v1/health", {{"X-Caravan-Protocol", "1"}});
    CHECK(r);
    CHECK((r ? r->status : 0) == 200);
    for (int fd : stalled) {
        ::close(fd);
    }
}
