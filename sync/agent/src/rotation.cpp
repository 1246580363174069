#include "rotation.hpp"

#include "caravan/client/ids.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol/rotate.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "token.hpp"

namespace caravan::sync::agent {

Result<void> Rotation::begin(std::int64_t from_seq) {
    Session& s = m_session;
    auto pending = s.state.pending_rotation();
    if (!pending) {
        return tl::unexpected(pending.error());
    }
    if (!*pending) {
        PendingRotation p{client::uuid_v7(s.now_ms()), from_seq};
        if (auto ok = s.engine.batch([&] { return s.state.set_pending_rotation(p); }); !ok) {
            return ok;
        }
    }
    return complete();
}

Result<void> Rotation::complete() {
    Session& s = m_session;
    auto pending = s.state.pending_rotation();
    if (!pending) {
        return tl::unexpected(pending.error());
    }
    if (!*pending) {
        return {};
    }
    const PendingRotation p = **pending;
    if (s.device_id == p.new_id) {
        // The rewrite committed but its bookkeeping did not (cannot happen today: both are
        // in one transaction); finish it rather than ask the server to rotate N into N.
        return s.engine.batch([&]() -> Result<void> {
            auto before = s.state.rotated_from();
            if (!before) {
                return tl::unexpected(before.error());
            }
            return s.state.finish_rotation(before->value_or(""));
        });
    }
    const std::string old_id = s.device_id;
    std::string body = to_json(RotateRequest{old_id, p.new_id}).dump();
    auto reply = body_of_ok(m_exchanger.post(routes::rotate, body, s.tuning.max_attempts));
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    auto answer = rotate_response_from_json(*reply);
    if (!answer) {
        return fail(ErrorCode::protocol, msg::rotate_incomplete);
    }
    if (answer->device_id != p.new_id) {
        return fail(ErrorCode::protocol, msg::rotate_other_id);
    }
    if (!token_well_formed(answer->token)) {
        return fail(ErrorCode::protocol, msg::token_form);
    }
    auto enrolled = s.state.enrollment();
    if (!enrolled) {
        return tl::unexpected(enrolled.error());
    }
    if (!*enrolled) {
        return fail(ErrorCode::not_initialized, msg::not_enrolled);
    }
    Enrollment next = **enrolled;
    next.token = answer->token;
    next.role = answer->role;
    next.regions = answer->regions;
    auto done = s.engine.reissue_under_new_id(old_id, p.new_id, p.from_seq, s.now_ms(), [&] {
        // Everything after the rewrite starts afresh under the new id: nothing of it is
        // acknowledged yet (the engine's push_acked_seq is 0), the superseded copies are no
        // longer set aside, and the pull restarts at 0 so that the old id's events this copy
        // lacks (the timeline the restore lost) come back whatever the stored cursor was.
        Result<void> ok = s.state.release_from(old_id, p.from_seq);
        if (ok) {
            ok = s.state.save_enrollment(next);
        }
        if (ok) {
            ok = s.state.set_pull_position(0, s.epoch);
        }
        if (ok) {
            ok = s.state.finish_rotation(old_id);
        }
        return ok;
    });
    if (!done) {
        return tl::unexpected(done.error());
    }
    if (done->already) {
        if (auto ok = s.engine.batch([&] { return s.state.finish_rotation(old_id); }); !ok) {
            return ok;
        }
    }
    s.device_id = p.new_id;
    s.token = answer->token;
    m_rotated = true;
    s.report.rotated_from = old_id;
    s.report.device_id_after = p.new_id;
    s.report.reissued = done->reissued;
    return {};
}

} // namespace caravan::sync::agent
