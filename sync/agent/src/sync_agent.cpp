#include "caravan/sync/agent/sync_agent.hpp"

#include <cctype>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/backoff.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "enroller.hpp"
#include "epoch_resync.hpp"
#include "exchanger.hpp"
#include "puller.hpp"
#include "pusher.hpp"
#include "rotation.hpp"
#include "session.hpp"
#include "verifier.hpp"

namespace caravan::sync::agent {

using nlohmann::json;

namespace {

// Worth another whole-sync round within the --until window. `busy`: someone recording at the
// laptop held the database longer than the busy timeout while we wanted to store a batch.
bool transient(ErrorCode code) {
    return code == ErrorCode::offline || code == ErrorCode::timeout || code == ErrorCode::server ||
           code == ErrorCode::busy;
}

// The parts of one sync() run, wired together; they live across the run's rounds, so batch and
// page sizes and the backoff carry over from one round to the next.
struct SyncRun {
    Session& session;
    Exchanger exchanger;
    Rotation rotation;
    Pusher pusher;
    Puller puller;

    SyncRun(Session& s, Transport& transport)
        : session(s), exchanger(s, transport), rotation(s, exchanger),
          pusher(s, exchanger, rotation), puller(s, exchanger) {}

    // One whole-sync round: finish an interrupted rotation, repair the clock, push, pull;
    // resync after an epoch change (at most three times).
    Result<void> once() {
        auto stored = session.state.epoch();
        if (!stored) {
            return tl::unexpected(stored.error());
        }
        session.epoch = *stored;
        // A rotation interrupted after it was decided (a crash, a lost answer) is finished
        // before anything else is sent under either id.
        if (auto ok = rotation.complete(); !ok) {
            return ok;
        }
        // Unsent events stamped by a poisoned clock are stamped again before they are offered:
        // sent as they are, the server would refuse each one (clock_ahead) and they would be
        // acknowledged as refused, beyond repair (docs/sync-algorithm.md, clock rules).
        if (auto repaired = session.engine.repair_clock(); !repaired) {
            return tl::unexpected(repaired.error());
        }
        auto pushed = pusher.push_outbox();
        if (!pushed) {
            return tl::unexpected(pushed.error());
        }
        bool epoch_changed = !*pushed;
        for (int round = 0; round < 3; ++round) {
            if (!epoch_changed) {
                auto end = puller.pull_all();
                if (!end) {
                    return tl::unexpected(end.error());
                }
                if (*end == PullEnd::done) {
                    return {};
                }
            }
            if (auto ok = resync_after_epoch_change(session, exchanger, pusher); !ok) {
                return ok;
            }
            epoch_changed = false;
        }
        return fail(ErrorCode::server, msg::epoch_unstable);
    }
};

} // namespace

json to_json(const VerifyReport& r) {
    return {{"agree", r.agree},
            {"upto", r.upto},
            {"local_count", r.local_count},
            {"server_count", r.server_count},
            {"local_digest", r.local_digest},
            {"server_digest", r.server_digest}};
}

json to_json(const SyncReport& r) {
    json j = {{"result", r.ok() ? "ok" : std::string(to_string(r.error->code))},
              {"started_at", r.started_at},
              {"duration_ms", r.duration_ms},
              {"pushed", r.pushed},
              {"pulled", r.pulled},
              {"rejected", r.rejected},
              {"bytes_up", r.bytes_up},
              {"bytes_down", r.bytes_down},
              {"requests", r.requests},
              {"attempts", r.attempts}};
    if (r.error) {
        j["message"] = r.error->message;
    }
    if (r.verify) {
        j["verify"] = to_json(*r.verify);
    }
    if (r.rotated_from) {
        j["rotated_from"] = *r.rotated_from;
        j["device_id"] = r.device_id_after;
        j["reissued"] = r.reissued;
    }
    return j;
}

Result<std::string> normalize_enroll_code(std::string_view code) {
    std::string chars;
    for (unsigned char c : code) {
        if (c == '-' || c == ' ') {
            continue;
        }
        if (!std::isalnum(c)) {
            return fail(ErrorCode::invalid_input, msg::enroll_code_form);
        }
        chars.push_back(static_cast<char>(std::toupper(c)));
    }
    if (chars.size() != 9) {
        return fail(ErrorCode::invalid_input, msg::enroll_code_form);
    }
    return chars.substr(0, 3) + "-" + chars.substr(3, 3) + "-" + chars.substr(6, 3);
}

// ---- SyncAgent ---------------------------------------------------------------------------

SyncAgent::SyncAgent(client::Engine& engine, Transport& transport, AgentEnvironment env)
    : m_engine(&engine), m_transport(&transport), m_env(std::move(env)) {
    if (!m_env.sleep) {
        m_env.sleep = [](Millis d) { std::this_thread::sleep_for(d); };
    }
    if (!m_env.now) {
        m_env.now = [] { return std::chrono::system_clock::now(); };
    }
    if (m_env.seed == 0) {
        std::random_device rd;
        m_env.seed = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    }
}

SyncAgent::~SyncAgent() = default;

Result<EnrollResult> SyncAgent::enroll(const EnrollRequest& request) {
    if (auto ok = AgentState::install(m_engine->component_storage()); !ok) {
        return tl::unexpected(ok.error());
    }
    auto code = normalize_enroll_code(request.code);
    if (!code) {
        return tl::unexpected(code.error());
    }
    auto device = m_engine->device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    Session s(*m_engine, m_env, request.tuning, m_env.now() + k_enroll_deadline);
    s.device_id = device->id;
    Exchanger exchanger(s, *m_transport);
    return enroll_device(s, exchanger, request, *code, device->lawyer);
}

SyncReport SyncAgent::sync(const SyncOptions& options) {
    auto started = m_env.now();
    auto steady_start = std::chrono::steady_clock::now();
    TransferTotals before = m_transport->totals();
    Session s(*m_engine, m_env, options.tuning, options.until);
    SyncRun run(s, *m_transport);
    s.report.started_at = iso_of(started);

    // One `sync log` entry per round: a sync retrying for hours under --until leaves a trace
    // of every failed round, not one line at the end.
    auto log_round = [&](const Result<void>& round) {
        TransferTotals now_totals = m_transport->totals();
        SyncLogEntry entry;
        entry.started_at = s.report.started_at;
        entry.duration_ms =
            std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - steady_start)
                .count();
        entry.result = round ? "ok" : std::string(to_string(round.error().code));
        entry.message = round ? "" : round.error().message;
        entry.pushed = s.report.pushed;
        entry.pulled = s.report.pulled;
        entry.rejected = s.report.rejected;
        entry.bytes_up = now_totals.bytes_sent - before.bytes_sent;
        entry.bytes_down = now_totals.bytes_received - before.bytes_received;
        entry.requests = s.report.requests;
        entry.attempts = s.report.attempts;
        // The log is a convenience: failing to write it must not turn a good sync into a bad
        // one.
        (void)m_engine->batch([&] { return s.state.record(entry); });
    };

    Result<void> outcome = AgentState::install(m_engine->component_storage());
    if (outcome) {
        outcome = s.load_identity();
    }
    if (outcome) {
        Backoff rounds(options.tuning.round_base, options.tuning.round_cap, m_env.seed + 1);
        for (;;) {
            ++s.report.attempts;
            outcome = run.once();
            if (outcome || !transient(outcome.error().code) || !options.until) {
                break;
            }
            Millis wait = rounds.next();
            if (m_env.now() + wait > *options.until) {
                break;
            }
            log_round(outcome);
            m_env.sleep(wait);
        }
    }
    if (outcome && options.verify) {
        auto v = verify_with_server(s, run.exchanger);
        if (!v) {
            outcome = tl::unexpected(v.error());
        } else {
            s.report.verify = *v;
            if (!v->agree) {
                outcome = fail(ErrorCode::corrupt, msg::verify_mismatch, v->upto, v->local_count,
                               v->server_count);
            }
        }
    }
    if (!outcome) {
        s.report.error = outcome.error();
    }
    TransferTotals after = m_transport->totals();
    s.report.bytes_up = after.bytes_sent - before.bytes_sent;
    s.report.bytes_down = after.bytes_received - before.bytes_received;
    s.report.duration_ms =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - steady_start).count();
    log_round(outcome);
    return s.report;
}

Result<VerifyReport> SyncAgent::verify() {
    if (auto ok = AgentState::install(m_engine->component_storage()); !ok) {
        return tl::unexpected(ok.error());
    }
    Session s(*m_engine, m_env, SyncTuning{}, std::nullopt);
    if (auto ok = s.load_identity(); !ok) {
        return tl::unexpected(ok.error());
    }
    Exchanger exchanger(s, *m_transport);
    return verify_with_server(s, exchanger);
}

} // namespace caravan::sync::agent
