#include "epoch_resync.hpp"

#include <algorithm>

#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/protocol/status.hpp"

namespace caravan::sync::agent {

Result<void> resync_after_epoch_change(Session& s, Exchanger& exchanger, Pusher& pusher) {
    auto body = body_of_ok(exchanger.get(std::string(routes::status)));
    if (!body) {
        return tl::unexpected(body.error());
    }
    auto status = status_response_from_json(*body);
    if (!status) {
        return fail(ErrorCode::protocol, msg::status_incomplete);
    }
    auto acked = s.engine.push_acked_seq();
    if (!acked) {
        return tl::unexpected(acked.error());
    }
    std::int64_t server_acked = std::max<std::int64_t>(0, status->acked_seq);
    auto ok = s.engine.batch([&]() -> Result<void> {
        if (server_acked < *acked) {
            if (auto done = s.engine.rewind_push_ack(server_acked); !done) {
                return done;
            }
        }
        return s.engine.forget_server_seqs();
    });
    if (!ok) {
        return ok;
    }
    s.epoch = status->epoch;
    auto pushed = pusher.push_outbox();
    if (!pushed) {
        return tl::unexpected(pushed.error());
    }
    if (!*pushed) {
        return fail(ErrorCode::server, msg::epoch_changed_again);
    }
    return s.engine.batch([&] { return s.state.set_pull_position(0, s.epoch); });
}

} // namespace caravan::sync::agent
