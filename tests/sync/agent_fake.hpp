#pragma once
// Test doubles for the sync agent: an in-memory server that follows protocol v1
// (docs/protocol.md) closely enough to drive the agent, and a Transport that reaches it
// through injectable faults: offline before delivery, timeout or truncated body AFTER the
// server processed the request (the dangerous case: the server holds the batch, the device does
// not know), 500, 503/429 with Retry-After, duplicated delivery.
// Also: simulated devices (an Engine on its own database with a test clock) and helpers.
//
// The fake speaks only through sync/protocol, as the real server does: routes and query codecs
// (routes.hpp), error codes (codes.hpp), and a codec for every body it reads or writes; it
// writes no JSON of its own, so a change of the wire vocabulary reaches it and the agent alike.

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
#include "caravan/sync/protocol/enroll.hpp"
#include "caravan/sync/protocol/error_body.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/protocol/status.hpp"
#include "caravan/sync/protocol/verify.hpp"
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
    r.headers = {{"content-type", std::string(sync::k_json_content_type)}};
    r.body = body.dump();
    return r;
}

// A refusal's body, with the code's extra keys left for the caller to fill in.
inline sync::ErrorBody refusal(std::string_view code) {
    sync::ErrorBody body;
    body.code = code;
    body.message = "test server says " + std::string(code);
    return body;
}

inline ag::HttpResponse error_response(int status, const sync::ErrorBody& body) {
    return json_response(status, sync::to_json(body));
}

inline ag::HttpResponse error_response(int status, std::string_view code) {
    return error_response(status, refusal(code));
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
        sync::Target target = sync::split_target(req.target);
        if (!has_header(req, sync::k_header_protocol, std::to_string(sync::k_protocol_version))) {
            return error_response(426, sync::codes::upgrade_required);
        }
        if (target.path == sync::routes::enroll && req.method == "POST") {
            return enroll(req);
        }
        auto device = authenticate(req);
        if (!device) {
            return error_response(401, sync::codes::unauthenticated);
        }
        if (target.path == sync::routes::push && req.method == "POST") {
            return push(*device, req);
        }
        if (target.path == sync::routes::pull && req.method == "GET") {
            return pull(*device, target.params);
        }
        if (target.path == sync::routes::status && req.method == "GET") {
            sync::StatusResponse status;
            status.epoch = epoch;
            status.protocol = sync::k_protocol_version;
            status.server_time = "2024-05-14T10:00:00.000Z";
            status.device = {*device, "coordinator", {}};
            status.acked_seq = acked[*device];
            status.head = static_cast<std::int64_t>(feed.size());
            return json_response(200, sync::to_json(status));
        }
        if (target.path == sync::routes::verify && req.method == "GET") {
            auto query = sync::verify_query_from(target.params);
            if (!query) {
                return error_response(400, sync::codes::malformed);
            }
            sync::VerifyResponse answer;
            answer.upto = query->upto.value_or(static_cast<std::int64_t>(feed.size()));
            sync::SetDigest d;
            for (const auto& e : feed) {
                if (*e.server_seq <= answer.upto && is_visible(*device, e)) {
                    d.add(e);
                }
            }
            answer.count = d.count();
            answer.digest = d.hex();
            return json_response(200, sync::to_json(answer));
        }
        return error_response(404, sync::codes::not_found);
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

    // The request body, decoded and parsed as the server does; nullopt when it is not JSON.
    static std::optional<json> body_json(const ag::HttpRequest& req) {
        std::string text = req.body;
        for (const auto& [k, v] : req.headers) {
            if (k == "Content-Encoding") {
                auto encoding = sync::encoding_from_header(v);
                auto plain = encoding ? sync::decompress(req.body, *encoding)
                                      : Result<std::string>(std::string());
                text = plain ? *plain : std::string();
            }
        }
        auto parsed = sync::parse_json_limited(text);
        if (!parsed) {
            return std::nullopt;
        }
        return std::move(*parsed);
    }

    ag::HttpResponse enroll(const ag::HttpRequest& req) {
        auto body = body_json(req);
        auto request = body ? sync::enroll_request_from_json(*body)
                            : Result<sync::EnrollRequest>(tl::unexpected(Error{}));
        if (!request) {
            return error_response(400, sync::codes::malformed);
        }
        if (!codes.erase(request->code)) {
            return error_response(403, sync::codes::invalid_code);
        }
        std::string token(64, 'a');
        std::string n = std::to_string(tokens.size() + 1);
        token.replace(64 - n.size(), n.size(), n);
        tokens[token] = request->device_id;
        sync::EnrollResponse answer{request->device_id, token, "coordinator",
                                    {"Жамбыл обл."},    epoch, "2024-05-14T10:00:00.000Z"};
        return json_response(200, sync::to_json(answer));
    }

    ag::HttpResponse push(const std::string& device, const ag::HttpRequest& req) {
        auto body = body_json(req);
        if (!body) {
            return error_response(400, sync::codes::malformed);
        }
        auto request = sync::push_request_from_json(*body);
        if (!request) {
            return error_response(400, sync::codes::malformed);
        }
        if (request->device_id != device) {
            return error_response(403, sync::codes::forbidden);
        }
        // First pass: judge the whole request without changing anything.
        std::int64_t a = acked[device];
        std::int64_t expect = a + 1;
        for (const auto& e : request->events) {
            if (e.device_id != device) {
                return error_response(403, sync::codes::forbidden);
            }
            if (e.seq <= a) {
                if (!(held.at({device, e.seq}).event == e)) {
                    return error_response(409, sync::codes::sequence_conflict);
                }
                continue;
            }
            if (e.seq != expect) {
                sync::ErrorBody gap = refusal(sync::codes::sequence_gap);
                gap.acked_seq = a;
                return error_response(409, gap);
            }
            ++expect;
        }
        sync::PushResponse response;
        for (auto e : request->events) {
            sync::EventResult r;
            r.seq = e.seq;
            if (e.seq <= acked[device]) {
                // Held already: a duplicate, with its feed position when it was accepted (one
                // refused earlier has none, docs/protocol.md).
                const Held& h = held.at({device, e.seq});
                r.fate = sync::EventFate::duplicate;
                r.server_seq = h.server_seq;
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

    ag::HttpResponse pull(const std::string& device, const sync::QueryParams& params) {
        auto query = sync::pull_query_from(params);
        if (!query) {
            return error_response(400, sync::codes::malformed);
        }
        if (!query->epoch.empty() && query->epoch != epoch) {
            sync::ErrorBody changed = refusal(sync::codes::epoch_changed);
            changed.epoch = epoch;
            return error_response(409, changed);
        }
        sync::PullResponse p;
        p.epoch = epoch;
        p.next_after = query->after;
        std::int64_t head = static_cast<std::int64_t>(feed.size());
        std::int64_t scanned = 0;
        for (std::int64_t s = query->after + 1; s <= head && scanned < query->limit;
             ++s, ++scanned) {
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
            return count(error_response(500, sync::codes::internal));
        case Fault::error_503: {
            auto r = error_response(503, sync::codes::unavailable);
            r.headers.emplace_back("retry-after", "2");
            return count(r);
        }
        case Fault::error_429: {
            sync::ErrorBody slow = refusal(sync::codes::slow_down);
            slow.retry_after = 1;
            auto r = error_response(429, slow);
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
        // skipping fsync keeps hundreds of simulated syncs fast. The pragma holds for the
        // engine's one connection, which component_storage() lends.
        ok(engine.component_storage().exec("PRAGMA synchronous=OFF"));
        return engine;
    }
    std::shared_ptr<std::int64_t> m_now;
    client::Engine m_engine;
    FakeTransport m_transport;
    std::chrono::milliseconds m_wall{k_day_ms};
};

// Where most agent tests start (TEST_CASE_METHOD(OneFakeDevice, ...)): a fake server and the
// enrolled device `a` of the lawyer Арнат; TwoFakeDevices adds `b`, of the lawyer Болат.
struct OneFakeDevice {
    TempDir dir;
    FakeServer server;
    Device a{dir / "a.db", server, "Арнат"};
};
struct TwoFakeDevices : OneFakeDevice {
    Device b{dir / "b.db", server, "Болат"};
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
    return ok(engine.last_seq(d.id));
}

inline std::int64_t acked_seq(client::Engine& engine) {
    return ok(engine.push_acked_seq());
}

inline std::string fingerprint(client::Engine& engine) {
    return ok(engine.fingerprint());
}

// Every (device, seq) the server holds in its feed exactly once, and all of `engine`'s own
// events among them.
inline void require_exactly_once(const FakeServer& server, client::Engine& engine) {
    for (const auto& [key, n] : server.copies()) {
        INFO("device " << key.first << " seq " << key.second);
        REQUIRE(n == 1);
    }
    auto d = ok(engine.device());
    std::int64_t last = ok(engine.last_seq(d.id));
    for (std::int64_t s = 1; s <= last; ++s) {
        INFO("own seq " << s);
        REQUIRE(server.held.contains({d.id, s}));
    }
}

} // namespace caravan::test::agent
