#pragma once
// Test doubles for the sync agent: an in-memory server that follows protocol v1
// (docs/protocol-contract.md) closely enough to drive the agent, and a Transport that reaches it
// through injectable faults: offline before delivery, timeout or truncated body AFTER the
// server processed the request (the dangerous case: the server holds the batch, the device does
// not know), 500, 503/429 with Retry-After, duplicated delivery.
// Also: simulated devices (an Engine on its own database with a test clock) and helpers.

#include <catch2/catch.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/sync_agent.hpp"
#include "caravan/sync/agent/transport.hpp"
#include "caravan/sync/protocol.hpp"
#include "must.hpp"
#include "temp_dir.hpp"

namespace caravan::test::agent {

using nlohmann::json;
namespace ag = caravan::sync::agent;

// 2024-05-14T10:00:00Z
inline constexpr std::int64_t k_day_ms = 1715680800000;
inline const std::string k_code = "K7Q-94X-2MC";

inline ag::HttpResponse json_response(int status, const json& body) {
    ag::HttpResponse r;
    r.status = status;
    r.headers = {{"content-type", "application/json; charset=utf-8"}};
    r.body = body.dump();
    return r;
}

inline ag::HttpResponse error_response(int status, std::string_view code, json extra = {}) {
    json body = sync::error_body(code, "test server says " + std::string(code));
    if (extra.is_object()) {
        body.update(extra);
    }
    return json_response(status, body);
}

// What the fake server holds for one (device, seq).
struct Held {
    storage::Event event;
    std::optional<std::int64_t> server_seq; // nullopt: rejected
};

class FakeServer {
  public:
    std::string epoch = "00000000000000e1";
    std::vector<storage::Event> feed; // server_seq = index + 1
    std::map<std::string, std::int64_t> acked;
    std::map<std::pair<std::string, std::int64_t>, Held> held;
    std::map<std::string, std::string> tokens; // token → device id
    std::set<std::string> codes = {k_code};
    // Refuse an event: returns {code, message}.
    std::function<std::optional<std::pair<std::string, std::string>>(const storage::Event&)> reject;
    // Events some device may not see (skipped in its pulls, like another region's records).
    std::function<bool(const std::string& device, const storage::Event&)> visible;
    int handled = 0;

    ag::HttpResponse handle(const ag::HttpRequest& req) {
        ++handled;
        std::string path = req.target.substr(0, req.target.find('?'));
        std::map<std::string, std::string> query = parse_query(req.target);
        if (!has_header(req, "X-Caravan-Protocol", "1")) {
            return error_response(426, "upgrade_required");
        }
        if (path == "/v1/enroll" && req.method == "POST") {
            return enroll(req);
        }
        auto device = authenticate(req);
        if (!device) {
            return error_response(401, "unauthenticated");
        }
        if (path == "/v1/push" && req.method == "POST") {
            return push(*device, req);
        }
        if (path == "/v1/pull" && req.method == "GET") {
            return pull(*device, query);
        }
        if (path == "/v1/status" && req.method == "GET") {
            return json_response(
                200,
                {{"epoch", epoch},
                 {"protocol", 1},
                 {"server_time", "2024-05-14T10:00:00.000Z"},
                 {"device",
                  {{"device_id", *device}, {"role", "coordinator"}, {"regions", json::array()}}},
                 {"acked_seq", acked[*device]},
                 {"head", static_cast<std::int64_t>(feed.size())}});
        }
        if (path == "/v1/verify" && req.method == "GET") {
            std::int64_t upto = std::stoll(query["upto"]);
            sync::SetDigest d;
            for (const auto& e : feed) {
                if (*e.server_seq <= upto && is_visible(*device, e)) {
                    d.add(e);
                }
            }
            return json_response(200, {{"upto", upto}, {"count", d.count()}, {"digest", d.hex()}});
        }
        return error_response(404, "not_found");
    }

    // A restore from an older backup: keeps the first `keep` feed events, forgets the rest
    // (and every acknowledgement beyond them), and takes a new epoch.
    void restore(std::size_t keep) {
        feed.resize(std::min(keep, feed.size()));
        std::map<std::pair<std::string, std::int64_t>, Held> kept;
        std::map<std::string, std::int64_t> new_acked;
        for (const auto& e : feed) {
            kept[{e.device_id, e.seq}] = Held{e, e.server_seq};
        }
        // Rejected events are kept only if all before them are (they are acknowledged in order).
        for (auto& [key, h] : held) {
            if (!h.server_seq) {
                kept.emplace(key, h);
            }
        }
        held.clear();
        for (auto& [key, h] : kept) {
            std::int64_t& a = new_acked[key.first];
            if (key.second == a + 1) {
                a = key.second;
                held.emplace(key, h);
            }
        }
        acked = new_acked;
        epoch = epoch == "00000000000000e1" ? "00000000000000e2" : "00000000000000e3";
    }

    // Events held per device: (device, seq) → count of copies in the feed (must be 0 or 1).
    [[nodiscard]] std::map<std::pair<std::string, std::int64_t>, int> copies() const {
        std::map<std::pair<std::string, std::int64_t>, int> n;
        for (const auto& e : feed) {
            ++n[{e.device_id, e.seq}];
        }
        return n;
    }

  private:
    static bool has_header(const ag::HttpRequest& req, std::string_view name,
                           std::string_view value) {
        for (const auto& [k, v] : req.headers) {
            if (k == name && v == value) {
                return true;
            }
        }
        return false;
    }

    static std::map<std::string, std::string> parse_query(const std::string& target) {
        std::map<std::string, std::string> q;
        auto mark = target.find('?');
        if (mark == std::string::npos) {
            return q;
        }
        std::string rest = target.substr(mark + 1);
        std::size_t pos = 0;
        while (pos <= rest.size()) {
            auto amp = rest.find('&', pos);
            std::string item =
                rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
            auto eq = item.find('=');
            if (eq != std::string::npos) {
                q[item.substr(0, eq)] = item.substr(eq + 1);
            }
            if (amp == std::string::npos) {
                break;
            }
            pos = amp + 1;
        }
        return q;
    }

    bool is_visible(const std::string& device, const storage::Event& e) const {
        return !visible || visible(device, e);
    }

    std::optional<std::string> authenticate(const ag::HttpRequest& req) const {
        for (const auto& [k, v] : req.headers) {
            if (k == "Authorization" && v.starts_with("Bearer ")) {
                auto it = tokens.find(v.substr(7));
                if (it != tokens.end()) {
                    return it->second;
                }
            }
        }
        return std::nullopt;
    }

    static std::string body_text(const ag::HttpRequest& req) {
        for (const auto& [k, v] : req.headers) {
            if (k == "Content-Encoding" && v == "zstd") {
                auto plain = sync::decompress(req.body, sync::Encoding::zstd);
                return plain ? *plain : std::string();
            }
        }
        return req.body;
    }

    ag::HttpResponse enroll(const ag::HttpRequest& req) {
        json b = json::parse(body_text(req), nullptr, false);
        if (!b.is_object() || !b.contains("code") || !b.contains("device_id")) {
            return error_response(400, "malformed");
        }
        std::string code = b["code"].get<std::string>();
        if (!codes.erase(code)) {
            return error_response(403, "invalid_code");
        }
        std::string device = b["device_id"].get<std::string>();
        std::string token(64, 'a');
        std::string n = std::to_string(tokens.size() + 1);
        token.replace(64 - n.size(), n.size(), n);
        tokens[token] = device;
        return json_response(200, {{"device_id", device},
                                   {"token", token},
                                   {"role", "coordinator"},
                                   {"regions", json::array({"Жамбыл обл."})},
                                   {"epoch", epoch},
                                   {"server_time", "2024-05-14T10:00:00.000Z"}});
    }

    ag::HttpResponse push(const std::string& device, const ag::HttpRequest& req) {
        auto parsed = sync::parse_json_limited(body_text(req));
        if (!parsed) {
            return error_response(400, "malformed");
        }
        auto request = sync::push_request_from_json(*parsed);
        if (!request) {
            return error_response(400, "malformed");
        }
        if (request->device_id != device) {
            return error_response(403, "forbidden");
        }
        // First pass: judge the whole request without changing anything.
        std::int64_t a = acked[device];
        std::int64_t expect = a + 1;
        for (const auto& e : request->events) {
            if (e.device_id != device) {
                return error_response(403, "forbidden");
            }
            if (e.seq <= a) {
                if (!(held.at({device, e.seq}).event == e)) {
                    return error_response(409, "sequence_conflict");
                }
                continue;
            }
            if (e.seq != expect) {
                return error_response(409, "sequence_gap", {{"acked_seq", a}});
            }
            ++expect;
        }
        sync::PushResponse response;
        for (auto e : request->events) {
            sync::EventResult r;
            r.seq = e.seq;
            if (e.seq <= acked[device]) {
                const Held& h = held.at({device, e.seq});
                r.fate = h.server_seq ? sync::EventFate::duplicate : sync::EventFate::rejected;
                r.server_seq = h.server_seq;
                if (!h.server_seq) {
                    r.code = "invalid";
                    r.message = "refused before";
                }
            } else if (auto why = reject ? reject(e) : std::nullopt) {
                r.fate = sync::EventFate::rejected;
                r.code = why->first;
                r.message = why->second;
                held[{device, e.seq}] = Held{e, std::nullopt};
                acked[device] = e.seq;
            } else {
                e.server_seq = static_cast<std::int64_t>(feed.size()) + 1;
                feed.push_back(e);
                r.fate = sync::EventFate::accepted;
                r.server_seq = e.server_seq;
                held[{device, e.seq}] = Held{e, e.server_seq};
                acked[device] = e.seq;
            }
            response.results.push_back(r);
        }
        response.acked_seq = acked[device];
        response.epoch = epoch;
        return json_response(200, sync::to_json(response));
    }

    ag::HttpResponse pull(const std::string& device, std::map<std::string, std::string>& q) {
        if (!q["epoch"].empty() && q["epoch"] != epoch) {
            return error_response(409, "epoch_changed", {{"epoch", epoch}});
        }
        std::int64_t after = std::stoll(q["after"]);
        std::int64_t limit = std::stoll(q["limit"]);
        sync::PullResponse p;
        p.epoch = epoch;
        p.next_after = after;
        std::int64_t head = static_cast<std::int64_t>(feed.size());
        std::int64_t scanned = 0;
        for (std::int64_t s = after + 1; s <= head && scanned < limit; ++s, ++scanned) {
            const auto& e = feed[static_cast<std::size_t>(s - 1)];
            if (is_visible(device, e)) {
                p.events.push_back(e);
            }
            p.next_after = s;
        }
        p.more = p.next_after < head;
        return json_response(200, sync::to_json(p));
    }
};

enum class Fault {
    none,
    offline,       // never reached the server
    timeout_after, // the server processed it; the answer was lost
    truncated,     // the server processed it; the body arrived cut in half
    error_500,
    error_503,  // with Retry-After: 2
    error_429,  // with Retry-After: 1 and "retry_after"
    duplicated, // delivered twice; the second answer comes back
};

inline const std::vector<Fault> k_all_faults = {
    Fault::offline,   Fault::timeout_after, Fault::truncated, Fault::error_500,
    Fault::error_503, Fault::error_429,     Fault::duplicated};

inline std::string fault_name(Fault f) {
    switch (f) {
    case Fault::none:
        return "none";
    case Fault::offline:
        return "offline";
    case Fault::timeout_after:
        return "timeout_after";
    case Fault::truncated:
        return "truncated";
    case Fault::error_500:
        return "500";
    case Fault::error_503:
        return "503";
    case Fault::error_429:
        return "429";
    case Fault::duplicated:
        return "duplicated";
    }
    return "?";
}

class FakeTransport final : public ag::Transport {
  public:
    explicit FakeTransport(FakeServer& server) : m_server(&server) {}

    // Decides the fault of each request: (index from 0, request).
    std::function<Fault(int, const ag::HttpRequest&)> faults;
    std::vector<ag::HttpRequest> sent;

    Result<ag::HttpResponse> send(const ag::HttpRequest& req) override {
        int index = static_cast<int>(sent.size());
        sent.push_back(req);
        m_totals.bytes_sent += static_cast<std::int64_t>(req.body.size() + 200);
        Fault f = faults ? faults(index, req) : Fault::none;
        switch (f) {
        case Fault::offline:
            return fail(ErrorCode::offline, "fake: no route to host");
        case Fault::error_500:
            return count(error_response(500, "internal"));
        case Fault::error_503: {
            auto r = error_response(503, "unavailable");
            r.headers.emplace_back("retry-after", "2");
            return count(r);
        }
        case Fault::error_429: {
            auto r = error_response(429, "slow_down", {{"retry_after", 1}});
            r.headers.emplace_back("retry-after", "1");
            return count(r);
        }
        case Fault::timeout_after:
            (void)m_server->handle(req);
            return fail(ErrorCode::timeout, "fake: the link stalled");
        case Fault::truncated: {
            auto r = m_server->handle(req);
            r.body.resize(r.body.size() / 2);
            return count(r);
        }
        case Fault::duplicated:
            (void)m_server->handle(req);
            return count(m_server->handle(req));
        case Fault::none:
            break;
        }
        return count(m_server->handle(req));
    }
    [[nodiscard]] ag::TransferTotals totals() const override { return m_totals; }

    [[nodiscard]] int count_path(std::string_view path) const {
        int n = 0;
        for (const auto& r : sent) {
            if (r.target.starts_with(path)) {
                ++n;
            }
        }
        return n;
    }

  private:
    ag::HttpResponse count(ag::HttpResponse r) {
        m_totals.bytes_received += static_cast<std::int64_t>(r.body.size() + 100);
        return r;
    }
    FakeServer* m_server;
    ag::TransferTotals m_totals;
};

// A device: its own database, a clock the test moves, a fake transport to the shared server.
class Device {
  public:
    Device(const std::filesystem::path& path, FakeServer& server, const std::string& lawyer,
           std::int64_t now_ms = k_day_ms)
        : m_now(std::make_shared<std::int64_t>(now_ms)), m_engine(open(path, m_now)),
          m_transport(server) {
        ok(m_engine.init(lawyer, "Жамбыл обл."));
        ag::SyncAgent enroller(m_engine, m_transport, env());
        std::string code = "D" + std::to_string(server.codes.size() + 10) + "-AAA-AAA";
        code = code.substr(0, 11);
        server.codes.insert(code);
        ok(enroller.enroll({"http://fake", code, std::nullopt}));
        m_transport.sent.clear();
    }

    client::Engine& engine() { return m_engine; }
    FakeTransport& transport() { return m_transport; }
    void advance(std::int64_t ms) { *m_now += ms; }

    // Test environment: no real sleeping; the sleeps are recorded and move the clock.
    ag::AgentEnvironment env() {
        ag::AgentEnvironment e;
        e.seed = 42;
        e.sleep = [this](ag::Millis d) {
            sleeps.push_back(d);
            m_wall += d;
        };
        e.now = [this] { return ag::TimePoint(m_wall); };
        e.app_version = "caravan/test";
        return e;
    }

    ag::SyncReport sync(ag::SyncOptions options = {}) {
        ag::SyncAgent a(m_engine, m_transport, env());
        return a.sync(options);
    }

    std::vector<ag::Millis> sleeps;

  private:
    static client::Engine open(const std::filesystem::path& path,
                               const std::shared_ptr<std::int64_t>& now) {
        client::EngineOptions options;
        options.clock = [now] { return (*now)++; };
        client::Engine engine = ok(client::Engine::open(path, options));
        // These tests exercise logic, not durability (the e2e tests kill real processes):
        // skipping fsync keeps hundreds of simulated syncs fast.
        ok(engine.database().exec("PRAGMA synchronous=OFF"));
        return engine;
    }
    std::shared_ptr<std::int64_t> m_now;
    client::Engine m_engine;
    FakeTransport m_transport;
    std::chrono::milliseconds m_wall{k_day_ms};
};

// A village, a visit and `n` consultations.
inline void record_field_day(client::Engine& engine, const std::string& village, int n) {
    auto v = engine.add_village({village, "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt});
    if (!v && v.error().code != ErrorCode::conflict) {
        ok(std::move(v));
    }
    auto visit = ok(engine.start_visit(village, std::string("2024-05-14")));
    for (int i = 0; i < n; ++i) {
        client::ConsultationInput in;
        in.visit = visit.id;
        in.person = {i % 2 ? "male" : "female", "33-45", "unemployed", i % 3 == 0};
        in.topics = {"land"};
        in.outcome = "advice";
        in.question = "сұрақ " + std::to_string(i) + " " + std::string(200, 'x');
        in.advice = "кеңес";
        in.lang = "kk";
        ok(engine.add_consultation(in));
    }
}

inline std::int64_t own_last_seq(client::Engine& engine) {
    auto d = ok(engine.device());
    return ok(engine.event_log().last_seq(d.id));
}

inline std::int64_t acked_seq(client::Engine& engine) {
    return ok(ag::AgentState(engine.database()).push_acked_seq());
}

inline std::string fingerprint(client::Engine& engine) {
    return ok(engine.projector().fingerprint());
}

// Every (device, seq) the server holds in its feed exactly once, and all of `engine`'s own
// events among them.
inline void require_exactly_once(const FakeServer& server, client::Engine& engine) {
    for (const auto& [key, n] : server.copies()) {
        INFO("device " << key.first << " seq " << key.second);
        REQUIRE(n == 1);
    }
    auto d = ok(engine.device());
    std::int64_t last = ok(engine.event_log().last_seq(d.id));
    for (std::int64_t s = 1; s <= last; ++s) {
        INFO("own seq " << s);
        REQUIRE(server.held.contains({d.id, s}));
    }
}

} // namespace caravan::test::agent
