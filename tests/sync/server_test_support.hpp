#pragma once
// Helpers for the server tests: a real server on 127.0.0.1 port 0 in this process, enrollment
// through the HTTP endpoint, hand-made events with full control over seq and content, and a
// small HTTP client that reports status, headers and the decoded JSON body.

#include <catch2/catch.hpp>

#include <httplib.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/entities.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/pg.hpp"
#include "caravan/sync/server/server.hpp"
#include "caravan/sync/server/store.hpp"
#include "pg_cluster.hpp"
#include "temp_dir.hpp"

namespace caravan::test::server {

using nlohmann::json;
namespace srv = caravan::sync::server;

// 2024-05-14T10:00:00Z
inline constexpr std::int64_t k_day_ms = 1715680800000;
inline const std::string k_region_a = "Жамбыл обл.";
inline const std::string k_region_b = "Ақтөбе обл.";

struct Reply {
    int status = 0; // 0: no response (connection error)
    json body;      // discarded when not JSON
    httplib::Headers headers;
    std::string raw; // as received (after cpp-httplib's own gzip decoding)

    [[nodiscard]] std::string code() const {
        if (body.is_object() && body.contains("error") && body["error"].is_object()) {
            return body["error"].value("code", "");
        }
        return "";
    }
    [[nodiscard]] std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

// One keep-alive connection to the server.
class Http {
  public:
    explicit Http(int port) : m_client("127.0.0.1", port) {
        m_client.set_connection_timeout(std::chrono::seconds(10));
        m_client.set_read_timeout(std::chrono::seconds(60));
        m_client.set_write_timeout(std::chrono::seconds(60));
        m_client.set_keep_alive(true);
    }

    Reply get(const std::string& path, const std::string& token = "", httplib::Headers extra = {}) {
        return reply(m_client.Get(path.c_str(), with_auth(token, std::move(extra))));
    }
    Reply post(const std::string& path, const std::string& token, const std::string& body,
               httplib::Headers extra = {}) {
        return reply(m_client.Post(path.c_str(), with_auth(token, std::move(extra)), body,
                                   "application/json; charset=utf-8"));
    }
    Reply push(const std::string& token, const sync::PushRequest& request,
               httplib::Headers extra = {}) {
        return post("/v1/push", token, sync::to_json(request).dump(), std::move(extra));
    }
    httplib::Client& client() { return m_client; }

  private:
    static httplib::Headers with_auth(const std::string& token, httplib::Headers extra) {
        extra.emplace("X-Caravan-Protocol", "1");
        if (!token.empty()) {
            extra.emplace("Authorization", "Bearer " + token);
        }
        return extra;
    }
    static Reply reply(const httplib::Result& result) {
        Reply r;
        if (!result) {
            return r;
        }
        r.status = result->status;
        r.headers = result->headers;
        r.raw = result->body;
        std::string text = result->body;
        if (result->get_header_value("Content-Encoding") == "zstd") {
            auto plain = sync::decompress(text, sync::Encoding::zstd);
            text = plain ? *plain : std::string();
        }
        r.body = json::parse(text, nullptr, false);
        return r;
    }
    httplib::Client m_client;
};

// POST /v1/enroll with `code` for `device_id`.
inline Reply enroll_with(Http& http, const std::string& code, const std::string& device_id,
                         const std::string& lawyer = "Test Lawyer") {
    return http.post("/v1/enroll", "",
                     json{{"code", code},
                          {"device_id", device_id},
                          {"lawyer", lawyer},
                          {"app_version", "caravan/test"}}
                         .dump());
}

// POST /v1/rotate: `old_id`, authenticated by `token`, asks to become `new_device_id`.
inline Reply rotate(Http& http, const std::string& token, const std::string& old_id,
                    const std::string& new_device_id) {
    return http.post("/v1/rotate", token,
                     json{{"device_id", old_id}, {"new_device_id", new_device_id}}.dump());
}

// The push response of a 200; fails the test (showing the body) on anything else.
inline sync::PushResponse ok_push(const Reply& r) {
    INFO(r.raw);
    REQUIRE(r.status == 200);
    auto parsed = sync::push_response_from_json(r.body);
    REQUIRE(parsed);
    return *parsed;
}

struct Device {
    std::string id;
    std::string token;
};

// Events of one device with consecutive seqs and increasing HLCs.
class Events {
  public:
    explicit Events(std::string device_id) : m_device(std::move(device_id)) {}

    storage::Event make(std::string_view type, const std::string& entity_id, json fields,
                        std::string_view op = "create") {
        storage::Event e;
        e.device_id = m_device;
        e.seq = ++m_seq;
        e.hlc = ((k_day_ms + m_seq * 1000) << 16) | 1;
        e.entity_type = std::string(type);
        e.entity_id = entity_id;
        e.op = std::string(op);
        e.payload = sync::canonical_payload(json{{"fields", std::move(fields)}});
        e.schema_version = 1;
        return e;
    }
    storage::Event self(const std::string& lawyer, const std::string& region) {
        return make("device", m_device,
                    {{"lawyer", lawyer}, {"region", region}, {"deleted", false}});
    }
    storage::Event village(const std::string& id, const std::string& name,
                           const std::string& region) {
        return make("village", id, {{"name", name}, {"region", region}, {"deleted", false}});
    }
    storage::Event visit(const std::string& id, const std::string& village_id) {
        return make("visit", id,
                    {{"village_id", village_id},
                     {"date", "2024-05-14"},
                     {"lawyer", "L"},
                     {"closed", false},
                     {"deleted", false}});
    }
    storage::Event consultation(const std::string& id, const std::string& visit_id,
                                const std::string& gender = "female",
                                const std::string& question = "жер учаскесі туралы сұрақ") {
        return make("consultation", id,
                    {{"visit_id", visit_id},
                     {"lawyer", "L"},
                     {"gender", gender},
                     {"age", "33-45"},
                     {"category", "unemployed"},
                     {"vulnerable", true},
                     {"topics", {"land"}},
                     {"outcome", "advice"},
                     {"question", question},
                     {"advice", "өтініш жазу"},
                     {"follow_up", false},
                     {"lang", "kk"},
                     {"deleted", false}});
    }
    [[nodiscard]] std::int64_t seq() const { return m_seq; }
    void set_seq(std::int64_t seq) { m_seq = seq; }
    [[nodiscard]] const std::string& device() const { return m_device; }

  private:
    std::string m_device;
    std::int64_t m_seq = 0;
};

inline std::string new_id() {
    static std::atomic<std::int64_t> tick{0};
    return client::uuid_v7(k_day_ms + tick.fetch_add(1));
}

inline sync::PushRequest batch(const std::string& device_id, std::vector<storage::Event> events) {
    return sync::PushRequest{device_id, std::move(events)};
}

// Pushes `device`'s own device record (the next event of `events`, in region A), required to
// be answered 200: the device has spoken.
inline void push_identity(Http& http, const Device& device, Events& events) {
    REQUIRE(http.push(device.token, batch(device.id, {events.self("Test Lawyer", k_region_a)}))
                .status == 200);
}

// A real server in this process on 127.0.0.1 with a free port, on its own data directory (and,
// on PostgreSQL, its own database).
class TestServer {
  public:
    explicit TestServer(srv::ServerOptions options = {}) : m_options(std::move(options)) {
        m_options.data_dir = m_dir.path() / "data";
        if (m_options.store_url.empty()) {
            m_options.store_url = store_under_test();
        }
        m_options.host = "127.0.0.1";
        m_options.port = 0;
        if (m_options.threads == srv::ServerOptions{}.threads) {
            m_options.threads = 8;
        }
        m_options.log_sink = [this](std::string_view line) {
            std::lock_guard lock(m_log_mutex);
            m_log.emplace_back(line);
        };
        start();
    }

    void start() {
        auto started = srv::Server::start(m_options);
        if (!started) {
            FAIL("server did not start: " << started.error().message);
        }
        m_server = std::move(*started);
    }
    void stop() { m_server.reset(); }

    [[nodiscard]] int port() const { return m_server->port(); }
    [[nodiscard]] std::filesystem::path data_dir() const { return m_options.data_dir; }
    [[nodiscard]] std::filesystem::path db_path() const { return m_options.data_dir / "server.db"; }
    // The PostgreSQL database's URL; "" on the embedded store.
    [[nodiscard]] const std::string& store_url() const { return m_options.store_url; }
    [[nodiscard]] std::filesystem::path scratch(const std::string& name) const {
        return m_dir.path() / name;
    }

    // A second connection for inspection and operator actions (codes, revoke).
    std::unique_ptr<srv::Store> store(std::int64_t now_ms = 0) {
        srv::StoreOptions o;
        o.create = false;
        o.integrity_check = false;
        if (now_ms != 0) {
            o.clock = [now_ms] { return now_ms; };
        }
        o.cache_dir = m_dir.path() / "inspect-cache";
        auto s =
            store_url().empty()
                ? srv::Store::open(db_path(), o)
                : srv::Store::open_postgresql(std::make_shared<srv::pg::Pool>(store_url(), 2), o);
        if (!s) {
            FAIL("cannot open the server database: " << s.error().message);
        }
        return std::move(*s);
    }

    std::string code(const std::vector<std::string>& regions, srv::Role role = srv::Role::lawyer,
                     std::int64_t ttl_hours = 72, std::int64_t now_ms = 0) {
        auto made =
            store(now_ms)->registry().create_code({"Test Lawyer", regions, role, ttl_hours});
        if (!made) {
            FAIL("cannot create a code: " << made.error().message);
        }
        return *made;
    }

    Device enroll(const std::vector<std::string>& regions, srv::Role role = srv::Role::lawyer) {
        std::string device_id = new_id();
        Http http(port());
        Reply r = enroll_with(http, code(regions, role), device_id);
        if (r.status != 200) {
            FAIL("enrollment failed: HTTP " << r.status << " " << r.raw);
        }
        return {device_id, r.body["token"].get<std::string>()};
    }

    // A count from the store's tables (on PostgreSQL: from its database, or, for the
    // projections, from a cache caught up to the feed).
    std::int64_t count(const std::string& sql) {
        if (!store_url().empty()) {
            auto conn = srv::pg::Connection::open(store_url());
            REQUIRE(conn);
            if (auto rows = conn->exec(sql)) {
                return rows->int64(0, 0);
            }
        }
        auto s = store();
        REQUIRE(s->refresh());
        auto stmt = s->database().prepare(sql);
        REQUIRE(stmt);
        REQUIRE(stmt->step().value());
        return stmt->column_int(0);
    }
    std::int64_t event_count() { return count("SELECT count(*) FROM events"); }

    std::vector<std::string> log_lines() {
        std::lock_guard lock(m_log_mutex);
        return m_log;
    }

    ~TestServer() { stop(); } // before the log the workers write to goes away

  private:
    TempDir m_dir;
    std::mutex m_log_mutex;
    std::vector<std::string> m_log;
    srv::ServerOptions m_options;
    std::unique_ptr<srv::Server> m_server;
};

// A server and one lawyer's device of region A enrolled with it, a connection and the device's
// events: where most server tests start (TEST_CASE_METHOD(OneDevice, ...)).
struct OneDevice {
    TestServer server;
    Device d = server.enroll({k_region_a});
    Http http{server.port()};
    Events ev{d.id};
};

// Follows the change feed to its end; fails the test on any non-200.
inline std::vector<storage::Event> pull_all(Http& http, const std::string& token,
                                            std::int64_t limit = 1000,
                                            std::int64_t* requests = nullptr,
                                            std::string extra_query = "") {
    std::vector<storage::Event> events;
    std::int64_t after = 0;
    for (int round = 0; round < 10000; ++round) {
        Reply r = http.get("/v1/pull?after=" + std::to_string(after) +
                               "&limit=" + std::to_string(limit) + extra_query,
                           token);
        REQUIRE(r.status == 200);
        auto page = sync::pull_response_from_json(r.body);
        REQUIRE(page);
        if (requests) {
            ++*requests;
        }
        for (auto& e : page->events) {
            events.push_back(std::move(e));
        }
        REQUIRE(page->next_after >= after);
        after = page->next_after;
        if (!page->more) {
            return events;
        }
    }
    FAIL("pull did not terminate");
    return events;
}

} // namespace caravan::test::server
