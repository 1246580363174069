#include "puller.hpp"

#include <algorithm>

#include "caravan/client/projector.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol/routes.hpp"

namespace caravan::sync::agent {

using storage::Event;

Result<PullEnd> Puller::pull_all() {
    Session& s = m_session;
    std::int64_t received = 0;
    for (;;) {
        auto cursor = s.state.pull_cursor();
        if (!cursor) {
            return tl::unexpected(cursor.error());
        }
        // Our own events the server acknowledged are here already; those whose server_seq we
        // know need not come back (docs/protocol.md 6.5). After an epoch change the server_seqs
        // were forgotten and only re-pushed events learn them again: the rest come back through
        // the pull, which is where they learn theirs.
        auto acked = s.engine.push_acked_seq();
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        auto known = s.engine.server_seq_known_upto(s.device_id);
        if (!known) {
            return tl::unexpected(known.error());
        }
        auto own_upto = std::min(*acked, *known);
        s.progress("pull", received, 0);
        auto reply = m_exchanger.exchange(
            [&] {
                return m_exchanger.request(
                    "GET", target(PullQuery{*cursor, m_page, s.epoch, own_upto}), nullptr, false);
            },
            [&] { m_page = std::max(s.tuning.min_page, m_page / 2); }, s.tuning.max_attempts);
        if (!reply) {
            return tl::unexpected(reply.error());
        }
        if (reply->status == 409 && reply->error.code == codes::epoch_changed) {
            return PullEnd::epoch_changed;
        }
        if (reply->status != 200) {
            return tl::unexpected(error_from_reply(*reply));
        }
        auto pulled = pull_response_from_json(reply->body);
        if (!pulled) {
            return fail(ErrorCode::protocol, msg::pull_response_bad, pulled.error());
        }
        if (!s.epoch.empty() && pulled->epoch != s.epoch) {
            return PullEnd::epoch_changed;
        }
        if (auto ok = apply_page(*pulled, *cursor); !ok) {
            return tl::unexpected(ok.error());
        }
        received += static_cast<std::int64_t>(pulled->events.size());
        m_page = std::min(s.tuning.max_page, m_page * 2);
        if (!pulled->more) {
            return PullEnd::done;
        }
        if (pulled->next_after == *cursor) {
            return fail(ErrorCode::protocol, msg::pull_more_no_cursor);
        }
    }
}

Result<void> Puller::apply_page(const PullResponse& p, std::int64_t cursor) {
    Session& s = m_session;
    if (p.next_after < cursor) {
        return fail(ErrorCode::protocol, msg::pull_cursor_back);
    }
    std::int64_t fresh = 0;
    std::string at = iso_of(s.now());
    auto ok = s.engine.batch([&]() -> Result<void> {
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
                if (auto done = s.state.quarantine(q); !done) {
                    return done;
                }
                continue;
            }
            auto applied = s.engine.apply_remote(e);
            if (!applied) {
                if (applied.error().code == ErrorCode::conflict) {
                    return fail(ErrorCode::protocol, msg::pull_event_differs, e.seq, e.device_id);
                }
                return tl::unexpected(applied.error());
            }
            if (*applied && e.device_id != s.device_id) {
                ++fresh;
            }
        }
        return s.state.set_pull_position(p.next_after, p.epoch);
    });
    if (!ok) {
        return ok;
    }
    s.report.pulled += fresh;
    return {};
}

} // namespace caravan::sync::agent
