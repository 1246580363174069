#include "pusher.hpp"

#include <algorithm>

#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/protocol/routes.hpp"

namespace caravan::sync::agent {

using nlohmann::json;
using storage::Event;

Pusher::Pusher(Session& session, Exchanger& exchanger, Rotation& rotation)
    : m_session(session), m_exchanger(exchanger), m_rotation(rotation),
      m_batch_bytes(session.tuning.initial_batch_bytes) {}

void Pusher::shrink() {
    m_batch_bytes = std::max(m_session.tuning.min_batch_bytes, m_batch_bytes / 2);
}

void Pusher::grow() {
    m_batch_bytes = std::min(m_session.tuning.max_batch_bytes, m_batch_bytes * 2);
}

// Reads the outbox after `acked` in small chunks until the byte budget or the event limit is
// reached: memory follows the batch size, never the backlog.
Result<Pusher::Batch> Pusher::build_batch(std::int64_t acked) {
    Session& s = m_session;
    Batch batch;
    json events = json::array();
    std::size_t bytes = 0;
    std::int64_t after = acked;
    constexpr std::int64_t k_chunk = 128;
    bool full = false;
    while (!full && events.size() < Limits::max_events_per_push) {
        std::int64_t want = std::min<std::int64_t>(
            k_chunk, static_cast<std::int64_t>(Limits::max_events_per_push - events.size()));
        auto chunk = s.engine.device_events(s.device_id, after, want);
        if (!chunk) {
            return tl::unexpected(chunk.error());
        }
        for (Event& e : *chunk) {
            e.server_seq.reset(); // a push carries none
            json item = event_to_json(e);
            std::size_t size = item.dump().size() + 1;
            if (!events.empty() && bytes + size > m_batch_bytes) {
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
        batch.body = push_request_json(s.device_id, std::move(events)).dump();
    }
    return batch;
}

Result<bool> Pusher::push_outbox() {
    Session& s = m_session;
    auto last_seq = s.engine.last_seq(s.device_id);
    if (!last_seq) {
        return tl::unexpected(last_seq.error());
    }
    for (;;) {
        auto acked = s.engine.push_acked_seq();
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        if (*acked >= *last_seq) {
            return true;
        }
        s.progress("push", s.report.pushed + s.report.rejected,
                   s.report.pushed + s.report.rejected + (*last_seq - *acked));
        auto batch = build_batch(*acked);
        if (!batch) {
            return tl::unexpected(batch.error());
        }
        if (batch->empty()) {
            return true; // a gap in our own log cannot happen; nothing to send either way
        }
        // A retry after a failure sends a rebuilt, smaller batch: a link that just dropped a
        // big body is more likely to carry a small one.
        bool rebuild = false;
        auto reply = m_exchanger.exchange(
            [&]() -> Result<HttpRequest> {
                if (rebuild) {
                    auto smaller = build_batch(*acked);
                    if (!smaller) {
                        return tl::unexpected(smaller.error());
                    }
                    *batch = std::move(*smaller);
                }
                return m_exchanger.request("POST", std::string(routes::push), &batch->body, true);
            },
            [&] {
                shrink();
                rebuild = true;
            },
            s.tuning.max_attempts);
        if (!reply) {
            return tl::unexpected(reply.error());
        }
        if (reply->status == 200) {
            auto taken = take_results(*batch, reply->body, *acked);
            if (!taken) {
                return tl::unexpected(taken.error());
            }
            if (!*taken) {
                return false;
            }
            grow();
            continue;
        }
        if (reply->status == 409 && reply->error.code == codes::sequence_gap) {
            if (!reply->error.acked_seq) {
                return fail(ErrorCode::protocol, msg::gap_without_acked);
            }
            std::int64_t server_acked = *reply->error.acked_seq;
            if (server_acked < 0 || server_acked >= *acked) {
                return fail(ErrorCode::protocol, msg::gap_false);
            }
            // The server holds less than we thought (it was restored from a backup, or this
            // device switched servers): resend from where it stands.
            if (auto ok = s.engine.rewind_push_ack(server_acked); !ok) {
                return tl::unexpected(ok.error());
            }
            continue;
        }
        if (reply->status == 409 && reply->error.code == codes::sequence_conflict) {
            if (m_rotation.happened()) {
                return fail(ErrorCode::protocol, msg::sequence_conflict_after_rotation);
            }
            // This copy's log diverged from what the server holds (restored from an older
            // backup, or copied, and then written to). The server checked the batch in seq
            // order, so every event before the one it names is held identically.
            std::int64_t from = *acked + 1;
            if (auto named = reply->error.seq; named && *named > *acked && *named <= batch->last) {
                from = *named;
            }
            if (auto ok = m_rotation.begin(from); !ok) {
                return tl::unexpected(ok.error());
            }
            return push_outbox(); // the re-issued events, under the new id
        }
        if (reply->status == 413) {
            if (batch->first == batch->last) {
                return fail(ErrorCode::protocol, msg::event_too_large, batch->first);
            }
            m_batch_bytes =
                std::max(s.tuning.min_batch_bytes, std::min(m_batch_bytes, batch->body.size()) / 2);
            continue;
        }
        return tl::unexpected(error_from_reply(*reply));
    }
}

// false when the answer comes from another epoch than ours: its server_seqs belong to a feed we
// have not resynced with, so none of it is taken (resending is harmless).
Result<bool> Pusher::take_results(const Batch& batch, const json& body, std::int64_t acked) {
    Session& s = m_session;
    auto response = push_response_from_json(body);
    if (!response) {
        return fail(ErrorCode::protocol, msg::push_response_bad, response.error());
    }
    if (!s.epoch.empty() && response->epoch != s.epoch) {
        return false;
    }
    for (const EventResult& r : response->results) {
        if (!batch.entities.contains(r.seq)) {
            return fail(ErrorCode::protocol, msg::push_unknown_event, r.seq);
        }
    }
    // The server may say it holds more than we sent (this database is older than the server's
    // copy): only what we sent is acknowledged, so later local events are still offered and a
    // real divergence surfaces as sequence_conflict rather than a silent loss.
    std::int64_t new_acked = std::min(response->acked_seq, batch.last);
    if (new_acked <= acked) {
        return fail(ErrorCode::protocol, msg::push_none_acked);
    }
    std::int64_t pushed = 0, rejected = 0;
    std::string at = iso_of(s.now());
    std::vector<client::Engine::AcceptedEvent> accepted;
    auto ok = s.engine.batch([&]() -> Result<void> {
        for (const EventResult& r : response->results) {
            if (r.seq > new_acked) {
                continue;
            }
            if (r.fate == EventFate::rejected) {
                const auto& [type, id] = batch.entities.at(r.seq);
                QuarantineEntry q{"push", s.device_id, r.seq, type, id, r.code, r.message, at};
                if (auto done = s.state.quarantine(q); !done) {
                    return done;
                }
                ++rejected;
                continue;
            }
            ++pushed;
            if (!r.server_seq) {
                continue; // a duplicate of an event refused earlier stays quarantined
            }
            accepted.push_back({r.seq, *r.server_seq});
            // Accepted after all (e.g. resent to a restored server): no longer set aside.
            if (auto done = s.state.release(s.device_id, r.seq); !done) {
                return done;
            }
        }
        return s.engine.acknowledge_push(new_acked, accepted);
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    s.report.pushed += pushed;
    s.report.rejected += rejected;
    return true;
}

} // namespace caravan::sync::agent
