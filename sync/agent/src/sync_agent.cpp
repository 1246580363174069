#include "caravan/sync/agent/sync_agent.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/backoff.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/agent/rotation.hpp"
#include "caravan/sync/protocol.hpp"

namespace caravan::sync::agent {

using nlohmann::json;
using storage::Event;

namespace {

std::string iso_of(TimePoint t) {
    auto ms = std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
    return client::Hlc::from_parts(ms, 0).to_iso();
}

std::string url_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

bool is_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](unsigned char c) {
        return std::isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

// A response whose body was read as JSON (every body of this protocol is JSON).
struct Reply {
    int status = 0;
    json body;              // discarded() when the body was not JSON
    std::string error_code; // "error.code" of an error body, if any
    std::string error_message;
    std::optional<std::int64_t> retry_after_s;
};

Reply read_reply(HttpResponse&& response) {
    Reply r;
    r.status = response.status;
    auto parsed = parse_json_limited(response.body);
    r.body = parsed ? std::move(*parsed) : json(json::value_t::discarded);
    if (r.body.is_object()) {
        if (auto e = r.body.find("error"); e != r.body.end() && e->is_object()) {
            r.error_code = e->value("code", "");
            r.error_message = e->value("message", "");
        }
        if (auto ra = r.body.find("retry_after"); ra != r.body.end() && ra->is_number()) {
            r.retry_after_s = ra->get<std::int64_t>();
        }
    }
    if (auto header = response.header("retry-after")) {
        try {
            r.retry_after_s = std::stoll(*header);
        } catch (const std::exception&) {
            // An HTTP-date or garbage: the backoff alone decides.
        }
    }
    return r;
}

// Errors the server answered with, in our vocabulary. The server's messages carry no personal
// data (protocol rule), so they are passed on.
Error error_from_reply(const Reply& r) {
    std::string detail = r.error_code.empty() ? "HTTP " + std::to_string(r.status)
                                              : r.error_code + ", HTTP " + std::to_string(r.status);
    std::string said = r.error_message.empty() ? "" : ": " + r.error_message;
    switch (r.status) {
    case 401:
        return make_error(ErrorCode::auth, msg::credentials_refused, detail, said);
    case 403:
        return make_error(ErrorCode::forbidden, msg::request_refused, detail, said);
    case 426:
        return make_error(ErrorCode::upgrade_required, msg::upgrade_needed, detail, said);
    case 408: // the server's request deadline passed: a slow link, worth another try
        return make_error(ErrorCode::timeout, msg::request_timed_out, detail, said);
    case 400:
    case 404:
    case 405:
    case 409:
    case 413:
        return make_error(ErrorCode::protocol, msg::request_refused, detail, said);
    default:
        if (r.status == 429) {
            return make_error(ErrorCode::server, msg::slow_down, detail, said);
        }
        if (r.status >= 500) {
            return make_error(ErrorCode::server, msg::server_failing, detail, said);
        }
        return make_error(ErrorCode::protocol, msg::unexpected_answer, detail, said);
    }
}

// Worth another whole-sync round within the --until window. `busy`: someone recording at the
// laptop held the database longer than the busy timeout while we wanted to store a batch.
bool transient(ErrorCode code) {
    return code == ErrorCode::offline || code == ErrorCode::timeout || code == ErrorCode::server ||
           code == ErrorCode::busy;
}

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

// ---- one run of the agent ----------------------------------------------------------------

// Everything that lives for one sync() (or enroll/verify) call: counters, adaptive sizes, the
// backoff. Persistent state lives in the database only.
struct SyncAgent::Session {
    SyncAgent& agent;
    client::Engine& engine;
    Transport& transport;
    AgentState state;
    SyncTuning tuning;
    std::optional<TimePoint> until;
    SyncReport report;
    std::string device_id;
    std::string token;
    std::string epoch; // the server epoch this device's state belongs to (stored at enroll)
    std::size_t batch_bytes;
    std::int64_t page;
    Backoff backoff;
    bool rotated = false; // at most one rotation per run

    Session(SyncAgent& a, const SyncTuning& t, std::optional<TimePoint> deadline,
            std::uint64_t seed)
        : agent(a), engine(*a.m_engine), transport(*a.m_transport), state(engine.database()),
          tuning(t), until(deadline), batch_bytes(t.initial_batch_bytes), page(t.initial_page),
          backoff(t.retry_base, t.retry_cap, seed) {}

    TimePoint now() const { return agent.m_env.now(); }

    void progress(std::string_view phase, std::int64_t done, std::int64_t total) {
        if (agent.m_env.progress) {
            agent.m_env.progress(Progress{phase, done, total});
        }
    }

    // ---- requests ----------------------------------------------------------------------

    // Queue depth headers: own seqs are contiguous, so the depth is a subtraction and the
    // oldest unsynced event is the one right after the acknowledged prefix.
    Result<void> add_queue_headers(Headers& headers) {
        auto acked = state.push_acked_seq();
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        std::int64_t depth = 0;
        std::string oldest;
        if (!device_id.empty()) {
            auto last = engine.event_log().last_seq(device_id);
            if (!last) {
                return tl::unexpected(last.error());
            }
            depth = std::max<std::int64_t>(0, *last - *acked);
            if (depth > 0) {
                auto first = engine.event_log().find(device_id, *acked + 1);
                if (!first) {
                    return tl::unexpected(first.error());
                }
                if (*first) {
                    oldest = client::Hlc{(*first)->hlc}.to_iso();
                }
            }
        }
        headers.emplace_back(std::string(k_header_queue_depth), std::to_string(depth));
        headers.emplace_back(std::string(k_header_oldest_unsynced), oldest);
        return {};
    }

    Result<HttpRequest> make_request(std::string method, std::string target,
                                     const std::string* body, bool compress_body) {
        HttpRequest req;
        req.method = std::move(method);
        req.target = std::move(target);
        if (!token.empty()) {
            req.headers.emplace_back("Authorization", "Bearer " + token);
        }
        req.headers.emplace_back(std::string(k_header_protocol),
                                 std::to_string(k_protocol_version));
        req.headers.emplace_back(std::string(k_header_app_version), agent.m_env.app_version);
        if (auto ok = add_queue_headers(req.headers); !ok) {
            return tl::unexpected(ok.error());
        }
        req.headers.emplace_back("Accept", "application/json");
        if (body) {
            req.headers.emplace_back("Content-Type", std::string(k_json_content_type));
            if (compress_body) {
                auto packed = compress(*body, Encoding::zstd);
                if (!packed) {
                    return tl::unexpected(packed.error());
                }
                req.body = std::move(*packed);
                req.headers.emplace_back("Content-Encoding", "zstd");
            } else {
                req.body = *body;
            }
        }
        return req;
    }

    // One request with its retries. Returns the reply for any status the caller must judge
    // (2xx with a JSON body, 4xx); retries transport failures, 5xx, 429 and unreadable 2xx
    // bodies. `shrink` runs after each failed try (smaller batches survive bad links better).
    Result<Reply> exchange(const std::function<Result<HttpRequest>()>& build,
                           const std::function<void()>& shrink, int max_attempts) {
        for (int attempt = 1;; ++attempt) {
            auto req = build();
            if (!req) {
                return tl::unexpected(req.error());
            }
            ++report.requests;
            auto response = transport.send(*req);
            Error failure;
            std::optional<Millis> server_wait;
            if (!response) {
                if (response.error().code != ErrorCode::offline &&
                    response.error().code != ErrorCode::timeout) {
                    return tl::unexpected(response.error());
                }
                failure = response.error();
            } else {
                Reply reply = read_reply(std::move(*response));
                bool retryable_status = reply.status == 408 || reply.status == 429 ||
                                        reply.status == 500 || reply.status == 502 ||
                                        reply.status == 503 || reply.status == 504;
                if (reply.status >= 200 && reply.status < 300) {
                    if (reply.body.is_object()) {
                        backoff.reset();
                        return reply;
                    }
                    failure = make_error(ErrorCode::offline, msg::response_garbled);
                } else if (retryable_status) {
                    failure = error_from_reply(reply);
                    if (reply.retry_after_s) {
                        server_wait =
                            Millis(std::clamp<std::int64_t>(*reply.retry_after_s, 0, 3600) * 1000);
                    }
                } else {
                    backoff.reset();
                    return reply;
                }
            }
            if (shrink) {
                shrink();
            }
            if (attempt >= max_attempts) {
                return tl::unexpected(failure);
            }
            Millis wait = backoff.next();
            if (server_wait) {
                wait = std::max(wait, *server_wait);
            }
            if (until && now() + wait > *until) {
                return tl::unexpected(failure);
            }
            agent.m_env.sleep(wait);
        }
    }

    // ---- push --------------------------------------------------------------------------

    struct Batch {
        std::string body;                                                     // uncompressed JSON
        std::map<std::int64_t, std::pair<std::string, std::string>> entities; // seq → type, id
        std::int64_t first = 0, last = 0;
        [[nodiscard]] bool empty() const { return entities.empty(); }
    };

    // Reads the outbox after `acked` in small chunks until the byte budget or the event limit
    // is reached: memory follows the batch size, never the backlog.
    Result<Batch> build_batch(std::int64_t acked) {
        Batch batch;
        json events = json::array();
        std::size_t bytes = 0;
        std::int64_t after = acked;
        constexpr std::int64_t k_chunk = 128;
        bool full = false;
        while (!full && events.size() < Limits::max_events_per_push) {
            std::int64_t want = std::min<std::int64_t>(
                k_chunk, static_cast<std::int64_t>(Limits::max_events_per_push - events.size()));
            auto chunk = engine.event_log().device_events(device_id, after, want);
            if (!chunk) {
                return tl::unexpected(chunk.error());
            }
            for (const Event& e : *chunk) {
                json item = event_to_json(e);
                item.erase("server_seq");
                std::size_t size = item.dump().size() + 1;
                if (!events.empty() && bytes + size > batch_bytes) {
                    full = true;
                    break;
                }
                bytes += size;
                events.push_back(std::move(item));
                batch.entities.emplace(e.seq, std::make_pair(e.entity_type, e.entity_id));
                if (batch.first == 0) {
                    batch.first = e.seq;
                }
                batch.last = e.seq;
                after = e.seq;
            }
            if (static_cast<std::int64_t>(chunk->size()) < want) {
                break;
            }
        }
        if (!events.empty()) {
            batch.body = json{{"device_id", device_id}, {"events", std::move(events)}}.dump();
        }
        return batch;
    }

    void shrink_batch() { batch_bytes = std::max(tuning.min_batch_bytes, batch_bytes / 2); }
    void grow_batch() { batch_bytes = std::min(tuning.max_batch_bytes, batch_bytes * 2); }

    // true: the outbox is empty; false: the server answered from another epoch (nothing of
    // that answer was taken; see resync_after_epoch_change).
    Result<bool> push_outbox() {
        auto last_seq = engine.event_log().last_seq(device_id);
        if (!last_seq) {
            return tl::unexpected(last_seq.error());
        }
        for (;;) {
            auto acked = state.push_acked_seq();
            if (!acked) {
                return tl::unexpected(acked.error());
            }
            if (*acked >= *last_seq) {
                return true;
            }
            progress("push", report.pushed + report.rejected,
                     report.pushed + report.rejected + (*last_seq - *acked));
            auto batch = build_batch(*acked);
            if (!batch) {
                return tl::unexpected(batch.error());
            }
            if (batch->empty()) {
                return true; // a gap in our own log cannot happen; nothing to send either way
            }
            // A retry after a failure sends a rebuilt, smaller batch: a link that just dropped
            // a big body is more likely to carry a small one.
            bool rebuild = false;
            auto reply = exchange(
                [&]() -> Result<HttpRequest> {
                    if (rebuild) {
                        auto smaller = build_batch(*acked);
                        if (!smaller) {
                            return tl::unexpected(smaller.error());
                        }
                        *batch = std::move(*smaller);
                    }
                    return make_request("POST", "/v1/push", &batch->body, true);
                },
                [&] {
                    shrink_batch();
                    rebuild = true;
                },
                tuning.max_attempts);
            if (!reply) {
                return tl::unexpected(reply.error());
            }
            if (reply->status == 200) {
                auto taken = take_push_results(*batch, reply->body, *acked);
                if (!taken) {
                    return tl::unexpected(taken.error());
                }
                if (!*taken) {
                    return false;
                }
                grow_batch();
                continue;
            }
            if (reply->status == 409 && reply->error_code == "sequence_gap") {
                auto server_acked = reply->body.find("acked_seq");
                if (server_acked == reply->body.end() || !server_acked->is_number_integer()) {
                    return fail(ErrorCode::protocol, msg::gap_without_acked);
                }
                std::int64_t s = server_acked->get<std::int64_t>();
                if (s < 0 || s >= *acked) {
                    return fail(ErrorCode::protocol, msg::gap_false);
                }
                // The server holds less than we thought (it was restored from a backup, or
                // this device switched servers): resend from where it stands.
                if (auto ok = engine.batch([&] { return state.set_push_acked_seq(s); }); !ok) {
                    return tl::unexpected(ok.error());
                }
                continue;
            }
            if (reply->status == 409 && reply->error_code == "sequence_conflict") {
                if (rotated) {
                    return fail(ErrorCode::protocol, msg::sequence_conflict_after_rotation);
                }
                // This copy's log diverged from what the server holds (restored from an older
                // backup, or copied, and then written to). The server checked the batch in seq
                // order, so every event before the one it names is held identically.
                std::int64_t from = *acked + 1;
                if (auto named = reply->body.find("seq");
                    named != reply->body.end() && named->is_number_integer() &&
                    named->get<std::int64_t>() > *acked &&
                    named->get<std::int64_t>() <= batch->last) {
                    from = named->get<std::int64_t>();
                }
                if (auto ok = begin_rotation(from); !ok) {
                    return tl::unexpected(ok.error());
                }
                return push_outbox(); // the re-issued events, under the new id
            }
            if (reply->status == 413) {
                if (batch->first == batch->last) {
                    return fail(ErrorCode::protocol, msg::event_too_large, batch->first);
                }
                batch_bytes =
                    std::max(tuning.min_batch_bytes, std::min(batch_bytes, batch->body.size()) / 2);
                continue;
            }
            return tl::unexpected(error_from_reply(*reply));
        }
    }

    // ---- rotation (docs/sync-algorithm.md 9) -------------------------------------------------

    // Chooses the new id and stores it with the first seq to re-issue before the server hears
    // of it, so that a crash after the server's answer resumes with the same id.
    Result<void> begin_rotation(std::int64_t from_seq) {
        auto pending = state.pending_rotation();
        if (!pending) {
            return tl::unexpected(pending.error());
        }
        if (!*pending) {
            PendingRotation p{client::uuid_v7(now_ms()), from_seq};
            if (auto ok = engine.batch([&] { return state.set_pending_rotation(p); }); !ok) {
                return ok;
            }
        }
        return complete_rotation();
    }

    std::int64_t now_ms() const {
        return std::chrono::duration_cast<Millis>(now().time_since_epoch()).count();
    }

    // POST /v1/rotate, then the local rewrite in one transaction (rotation.hpp). Safe to repeat
    // from any point: the server answers a repeated request for the same new id with a fresh
    // token as long as the new id has not spoken (it speaks only after the rewrite committed),
    // and the rewrite is skipped when the identity already changed.
    Result<void> complete_rotation() {
        auto pending = state.pending_rotation();
        if (!pending) {
            return tl::unexpected(pending.error());
        }
        if (!*pending) {
            return {};
        }
        const PendingRotation p = **pending;
        if (device_id == p.new_id) {
            // The rewrite committed but its bookkeeping did not (cannot happen today: both are
            // in one transaction); finish it rather than ask the server to rotate N into N.
            return engine.batch([&]() -> Result<void> {
                auto before = state.rotated_from();
                if (!before) {
                    return tl::unexpected(before.error());
                }
                return state.finish_rotation(before->value_or(""));
            });
        }
        const std::string old_id = device_id;
        std::string body = json{{"device_id", old_id}, {"new_device_id", p.new_id}}.dump();
        auto reply = exchange([&] { return make_request("POST", "/v1/rotate", &body, false); }, {},
                              tuning.max_attempts);
        if (!reply) {
            return tl::unexpected(reply.error());
        }
        if (reply->status != 200) {
            return tl::unexpected(error_from_reply(*reply));
        }
        const json& b = reply->body;
        std::string new_token, role;
        std::vector<std::string> regions;
        try {
            if (b.at("device_id").get<std::string>() != p.new_id) {
                return fail(ErrorCode::protocol, msg::rotate_other_id);
            }
            new_token = b.at("token").get<std::string>();
            role = b.at("role").get<std::string>();
            for (const auto& r : b.at("regions")) {
                regions.push_back(r.get<std::string>());
            }
        } catch (const json::exception&) {
            return fail(ErrorCode::protocol, msg::rotate_incomplete);
        }
        if (new_token.size() != 64 || !is_hex(new_token)) {
            return fail(ErrorCode::protocol, msg::token_form);
        }
        auto enrolled = state.enrollment();
        if (!enrolled) {
            return tl::unexpected(enrolled.error());
        }
        if (!*enrolled) {
            return fail(ErrorCode::not_initialized, msg::not_enrolled);
        }
        Enrollment next = **enrolled;
        next.token = new_token;
        next.role = role;
        next.regions = regions;
        auto done = reissue_under_new_id(engine, old_id, p.new_id, p.from_seq, now_ms(), [&] {
            // Everything after the rewrite starts afresh under the new id: nothing of it is
            // acknowledged yet, and the pull restarts at 0 so that the old id's events this copy
            // lacks (the timeline the restore lost) come back whatever the stored cursor was.
            Result<void> ok = state.save_enrollment(next);
            if (ok) {
                ok = state.set_push_acked_seq(0);
            }
            if (ok) {
                ok = state.set_pull_position(0, epoch);
            }
            if (ok) {
                ok = state.finish_rotation(old_id);
            }
            return ok;
        });
        if (!done) {
            return tl::unexpected(done.error());
        }
        if (done->already) {
            if (auto ok = engine.batch([&] { return state.finish_rotation(old_id); }); !ok) {
                return ok;
            }
        }
        device_id = p.new_id;
        token = new_token;
        rotated = true;
        report.rotated_from = old_id;
        report.device_id_after = p.new_id;
        report.reissued = done->reissued;
        return {};
    }

    // false when the answer comes from another epoch than ours: its server_seqs belong to a
    // feed we have not resynced with, so none of it is taken (resending is harmless).
    Result<bool> take_push_results(const Batch& batch, const json& body, std::int64_t acked) {
        auto response = push_response_from_json(body);
        if (!response) {
            return fail(ErrorCode::protocol, msg::push_response_bad, response.error());
        }
        if (!epoch.empty() && response->epoch != epoch) {
            return false;
        }
        for (const EventResult& r : response->results) {
            if (!batch.entities.contains(r.seq)) {
                return fail(ErrorCode::protocol, msg::push_unknown_event, r.seq);
            }
        }
        // The server may say it holds more than we sent (this database is older than the
        // server's copy): only what we sent is acknowledged, so later local events are still
        // offered and a real divergence surfaces as sequence_conflict rather than a silent loss.
        std::int64_t new_acked = std::min(response->acked_seq, batch.last);
        if (new_acked <= acked) {
            return fail(ErrorCode::protocol, msg::push_none_acked);
        }
        std::int64_t pushed = 0, rejected = 0;
        std::string at = iso_of(now());
        auto ok = engine.batch([&]() -> Result<void> {
            for (const EventResult& r : response->results) {
                if (r.seq > new_acked) {
                    continue;
                }
                if (r.fate == EventFate::rejected) {
                    const auto& [type, id] = batch.entities.at(r.seq);
                    QuarantineEntry q{"push", device_id, r.seq, type, id, r.code, r.message, at};
                    if (auto done = state.quarantine(q); !done) {
                        return done;
                    }
                    ++rejected;
                    continue;
                }
                ++pushed;
                if (!r.server_seq) {
                    continue; // a duplicate of an event refused earlier stays quarantined
                }
                if (auto done = engine.event_log().set_server_seq(device_id, r.seq, *r.server_seq);
                    !done) {
                    return done;
                }
                // Accepted after all (e.g. resent to a restored server): no longer set aside.
                if (auto done = state.release(device_id, r.seq); !done) {
                    return done;
                }
            }
            return state.set_push_acked_seq(new_acked);
        });
        if (!ok) {
            return tl::unexpected(ok.error());
        }
        report.pushed += pushed;
        report.rejected += rejected;
        return true;
    }

    // ---- pull --------------------------------------------------------------------------

    enum class PullEnd { done, epoch_changed };

    Result<PullEnd> pull_all() {
        std::int64_t received = 0;
        for (;;) {
            auto cursor = state.pull_cursor();
            if (!cursor) {
                return tl::unexpected(cursor.error());
            }
            // Our own events the server acknowledged are here already; those whose server_seq
            // we know need not come back (docs/protocol.md 6.5). After an epoch change the
            // server_seqs were forgotten and only re-pushed events learn them again: the rest
            // come back through the pull, which is where they learn theirs.
            auto acked = state.push_acked_seq();
            if (!acked) {
                return tl::unexpected(acked.error());
            }
            auto known = engine.event_log().server_seq_known_upto(device_id);
            if (!known) {
                return tl::unexpected(known.error());
            }
            auto own_upto = std::min(*acked, *known);
            progress("pull", received, 0);
            auto reply = exchange(
                [&] {
                    return make_request("GET",
                                        "/v1/pull?after=" + std::to_string(*cursor) + "&limit=" +
                                            std::to_string(page) + "&epoch=" + url_encode(epoch) +
                                            "&own_upto=" + std::to_string(own_upto),
                                        nullptr, false);
                },
                [&] { page = std::max(tuning.min_page, page / 2); }, tuning.max_attempts);
            if (!reply) {
                return tl::unexpected(reply.error());
            }
            if (reply->status == 409 && reply->error_code == "epoch_changed") {
                return PullEnd::epoch_changed;
            }
            if (reply->status != 200) {
                return tl::unexpected(error_from_reply(*reply));
            }
            auto pulled = pull_response_from_json(reply->body);
            if (!pulled) {
                return fail(ErrorCode::protocol, msg::pull_response_bad, pulled.error());
            }
            if (!epoch.empty() && pulled->epoch != epoch) {
                return PullEnd::epoch_changed;
            }
            if (auto ok = apply_page(*pulled, *cursor); !ok) {
                return tl::unexpected(ok.error());
            }
            received += static_cast<std::int64_t>(pulled->events.size());
            page = std::min(tuning.max_page, page * 2);
            if (!pulled->more) {
                return PullEnd::done;
            }
            if (pulled->next_after == *cursor) {
                return fail(ErrorCode::protocol, msg::pull_more_no_cursor);
            }
        }
    }

    // The page's events and the new cursor commit together: after a crash either both are
    // there or neither, so the page is pulled again and re-applied harmlessly.
    Result<void> apply_page(const PullResponse& p, std::int64_t cursor) {
        if (p.next_after < cursor) {
            return fail(ErrorCode::protocol, msg::pull_cursor_back);
        }
        std::int64_t fresh = 0;
        std::string at = iso_of(now());
        auto ok = engine.batch([&]() -> Result<void> {
            for (const Event& e : p.events) {
                if (!e.server_seq || *e.server_seq <= cursor || *e.server_seq > p.next_after) {
                    return fail(ErrorCode::protocol, msg::pull_outside_page);
                }
                if (auto valid = client::validate_event(e); !valid) {
                    if (valid.error().code == ErrorCode::upgrade_required) {
                        return fail(ErrorCode::upgrade_required, msg::newer_schema, valid.error());
                    }
                    // Set aside, not fatal: one bad event must not stall everything after it.
                    QuarantineEntry q{"pull",
                                      e.device_id,
                                      e.seq,
                                      e.entity_type,
                                      e.entity_id,
                                      std::string(to_string(valid.error().code)),
                                      valid.error().message,
                                      at};
                    if (auto done = state.quarantine(q); !done) {
                        return done;
                    }
                    continue;
                }
                auto applied = engine.apply_remote(e);
                if (!applied) {
                    if (applied.error().code == ErrorCode::conflict) {
                        return fail(ErrorCode::protocol, msg::pull_event_differs, e.seq,
                                    e.device_id);
                    }
                    return tl::unexpected(applied.error());
                }
                if (*applied && e.device_id != device_id) {
                    ++fresh;
                }
            }
            return state.set_pull_position(p.next_after, p.epoch);
        });
        if (!ok) {
            return ok;
        }
        report.pulled += fresh;
        return {};
    }

    // The server's epoch changed (it was restored from a backup); docs/protocol.md 7.4. Our
    // outbox goes first, and whatever the restored server lost of our acknowledged events is
    // offered again; server_seqs of the old feed are forgotten; then the cursor restarts at 0
    // and everything is pulled again (applying is idempotent). A crash anywhere in between
    // leaves the old epoch stored, so the next sync does all of it again.
    Result<void> resync_after_epoch_change() {
        auto reply = exchange([&] { return make_request("GET", "/v1/status", nullptr, false); }, {},
                              tuning.max_attempts);
        if (!reply) {
            return tl::unexpected(reply.error());
        }
        if (reply->status != 200) {
            return tl::unexpected(error_from_reply(*reply));
        }
        auto server_acked = reply->body.find("acked_seq");
        auto epoch_field = reply->body.find("epoch");
        if (server_acked == reply->body.end() || !server_acked->is_number_integer() ||
            epoch_field == reply->body.end() || !epoch_field->is_string()) {
            return fail(ErrorCode::protocol, msg::status_incomplete);
        }
        auto acked = state.push_acked_seq();
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        std::int64_t s = std::max<std::int64_t>(0, server_acked->get<std::int64_t>());
        auto ok = engine.batch([&]() -> Result<void> {
            if (s < *acked) {
                if (auto done = state.set_push_acked_seq(s); !done) {
                    return done;
                }
            }
            return engine.event_log().clear_server_seqs();
        });
        if (!ok) {
            return ok;
        }
        epoch = epoch_field->get<std::string>();
        auto pushed = push_outbox();
        if (!pushed) {
            return tl::unexpected(pushed.error());
        }
        if (!*pushed) {
            return fail(ErrorCode::server, msg::epoch_changed_again);
        }
        return engine.batch([&] { return state.set_pull_position(0, epoch); });
    }

    Result<void> sync_once() {
        auto stored = state.epoch();
        if (!stored) {
            return tl::unexpected(stored.error());
        }
        epoch = *stored;
        // A rotation interrupted after it was decided (a crash, a lost answer) is finished
        // before anything else is sent under either id.
        if (auto ok = complete_rotation(); !ok) {
            return ok;
        }
        // Unsent events stamped by a poisoned clock are stamped again before they are offered:
        // sent as they are, the server would refuse each one (clock_ahead) and they would be
        // acknowledged as refused, beyond repair (docs/sync-algorithm.md, clock rules).
        if (auto repaired = engine.repair_clock(); !repaired) {
            return tl::unexpected(repaired.error());
        }
        auto pushed = push_outbox();
        if (!pushed) {
            return tl::unexpected(pushed.error());
        }
        bool epoch_changed = !*pushed;
        for (int round = 0; round < 3; ++round) {
            if (!epoch_changed) {
                auto end = pull_all();
                if (!end) {
                    return tl::unexpected(end.error());
                }
                if (*end == PullEnd::done) {
                    return {};
                }
            }
            if (auto ok = resync_after_epoch_change(); !ok) {
                return ok;
            }
            epoch_changed = false;
        }
        return fail(ErrorCode::server, msg::epoch_unstable);
    }

    Result<void> load_identity() {
        auto device = engine.device();
        if (!device) {
            return tl::unexpected(device.error());
        }
        device_id = device->id;
        auto enrolled = state.enrollment();
        if (!enrolled) {
            return tl::unexpected(enrolled.error());
        }
        if (!*enrolled) {
            return fail(ErrorCode::not_initialized, msg::not_enrolled);
        }
        token = (*enrolled)->token;
        return {};
    }

    Result<VerifyReport> verify() {
        auto cursor = state.pull_cursor();
        if (!cursor) {
            return tl::unexpected(cursor.error());
        }
        auto reply = exchange(
            [&] {
                return make_request("GET", "/v1/verify?upto=" + std::to_string(*cursor), nullptr,
                                    false);
            },
            {}, tuning.max_attempts);
        if (!reply) {
            return tl::unexpected(reply.error());
        }
        if (reply->status != 200) {
            return tl::unexpected(error_from_reply(*reply));
        }
        const json& b = reply->body;
        auto upto = b.find("upto");
        auto count = b.find("count");
        auto digest = b.find("digest");
        if (upto == b.end() || !upto->is_number_integer() || count == b.end() ||
            !count->is_number_integer() || digest == b.end() || !digest->is_string()) {
            return fail(ErrorCode::protocol, msg::verify_incomplete);
        }
        VerifyReport v;
        v.upto = upto->get<std::int64_t>();
        v.server_count = count->get<std::int64_t>();
        v.server_digest = digest->get<std::string>();
        SetDigest local;
        std::int64_t after = 0;
        for (;;) {
            std::int64_t last_position = after;
            auto visited = engine.event_log().scan(after, 1000, [&](const Event& e) {
                last_position = e.log_position;
                if (e.server_seq && *e.server_seq <= v.upto) {
                    local.add(e);
                }
                return true;
            });
            if (!visited) {
                return tl::unexpected(visited.error());
            }
            if (*visited < 1000) {
                break;
            }
            after = last_position;
        }
        v.local_count = local.count();
        v.local_digest = local.hex();
        v.agree = v.local_count == v.server_count && v.local_digest == v.server_digest;
        return v;
    }
};

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
    if (auto ok = AgentState::install(m_engine->database()); !ok) {
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
    Session s(*this, request.tuning, m_env.now() + k_enroll_deadline, m_env.seed);
    s.device_id = device->id;
    std::string body = json{{"code", *code},
                            {"device_id", device->id},
                            {"lawyer", device->lawyer},
                            {"app_version", m_env.app_version}}
                           .dump();
    // A retry after a lost answer is safe: the server answers the same code for the same id
    // again (a fresh token) as long as this device has not used a token of it.
    auto reply = s.exchange([&] { return s.make_request("POST", "/v1/enroll", &body, false); }, {},
                            std::max(1, request.tuning.max_attempts));
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    if (reply->status == 403 && reply->error_code == "invalid_code") {
        return fail(ErrorCode::forbidden, msg::code_refused);
    }
    if (reply->status == 409 && reply->error_code == "device_id_taken") {
        return fail(ErrorCode::forbidden, msg::enroll_device_known);
    }
    if (reply->status != 200) {
        return tl::unexpected(error_from_reply(*reply));
    }
    const json& b = reply->body;
    EnrollResult result;
    std::string token;
    try {
        result.device_id = b.at("device_id").get<std::string>();
        token = b.at("token").get<std::string>();
        result.role = b.at("role").get<std::string>();
        for (const auto& r : b.at("regions")) {
            result.regions.push_back(r.get<std::string>());
        }
        result.epoch = b.at("epoch").get<std::string>();
        result.server_time = b.value("server_time", "");
    } catch (const json::exception&) {
        return fail(ErrorCode::protocol, msg::enroll_incomplete);
    }
    if (result.device_id != device->id) {
        return fail(ErrorCode::protocol, msg::enroll_other_device);
    }
    if (token.size() != 64 || !is_hex(token)) {
        return fail(ErrorCode::protocol, msg::token_form);
    }
    AgentState state(m_engine->database());
    auto ok = m_engine->batch([&]() -> Result<void> {
        auto previous = state.enrollment();
        auto epoch = state.epoch();
        if (!previous || !epoch) {
            return tl::unexpected(!previous ? previous.error() : epoch.error());
        }
        bool same_server =
            *previous && (*previous)->server_url == request.server_url && *epoch == result.epoch;
        if (!same_server) {
            // Another server (or a restored one) holds none of our history as far as we know:
            // offer everything again and pull from the start. Duplicates cost nothing.
            if (auto done = state.set_pull_position(0, result.epoch); !done) {
                return done;
            }
            if (auto done = state.set_push_acked_seq(0); !done) {
                return done;
            }
            if (auto done = m_engine->event_log().clear_server_seqs(); !done) {
                return done;
            }
        }
        return state.save_enrollment(
            Enrollment{request.server_url, token, result.role, result.regions, request.ca_file});
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return result;
}

SyncReport SyncAgent::sync(const SyncOptions& options) {
    auto started = m_env.now();
    auto steady_start = std::chrono::steady_clock::now();
    TransferTotals before = m_transport->totals();
    Session s(*this, options.tuning, options.until, m_env.seed);
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

    Result<void> outcome = AgentState::install(m_engine->database());
    if (outcome) {
        outcome = s.load_identity();
    }
    if (outcome) {
        Backoff rounds(options.tuning.round_base, options.tuning.round_cap, m_env.seed + 1);
        for (;;) {
            ++s.report.attempts;
            outcome = s.sync_once();
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
        auto v = s.verify();
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
    if (auto ok = AgentState::install(m_engine->database()); !ok) {
        return tl::unexpected(ok.error());
    }
    Session s(*this, SyncTuning{}, std::nullopt, m_env.seed);
    if (auto ok = s.load_identity(); !ok) {
        return tl::unexpected(ok.error());
    }
    return s.verify();
}

} // namespace caravan::sync::agent
