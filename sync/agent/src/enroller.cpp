#include "enroller.hpp"

#include <algorithm>

#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol/codes.hpp"
#include "caravan/sync/protocol/enroll.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "token.hpp"

namespace caravan::sync::agent {

Result<EnrollResult> enroll_device(Session& s, Exchanger& exchanger, const EnrollRequest& request,
                                   const std::string& code, const std::string& lawyer) {
    std::string body =
        to_json(sync::EnrollRequest{code, s.device_id, lawyer, s.env.app_version}).dump();
    auto reply = exchanger.post(routes::enroll, body, std::max(1, request.tuning.max_attempts));
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    if (reply->status == 403 && reply->error.code == codes::invalid_code) {
        return fail(ErrorCode::forbidden, msg::code_refused);
    }
    if (reply->status == 409 && reply->error.code == codes::device_id_taken) {
        return fail(ErrorCode::forbidden, msg::enroll_device_known);
    }
    if (reply->status != 200) {
        return tl::unexpected(error_from_reply(*reply));
    }
    auto answer = enroll_response_from_json(reply->body);
    if (!answer) {
        return fail(ErrorCode::protocol, msg::enroll_incomplete);
    }
    EnrollResult result{answer->device_id, answer->role, answer->regions, answer->epoch,
                        answer->server_time};
    if (result.device_id != s.device_id) {
        return fail(ErrorCode::protocol, msg::enroll_other_device);
    }
    if (!token_well_formed(answer->token)) {
        return fail(ErrorCode::protocol, msg::token_form);
    }
    auto ok = s.engine.batch([&]() -> Result<void> {
        auto previous = s.state.enrollment();
        auto epoch = s.state.epoch();
        if (!previous || !epoch) {
            return tl::unexpected(!previous ? previous.error() : epoch.error());
        }
        bool same_server =
            *previous && (*previous)->server_url == request.server_url && *epoch == result.epoch;
        if (!same_server) {
            // Another server (or a restored one) holds none of our history as far as we know:
            // offer everything again and pull from the start. Duplicates cost nothing.
            if (auto done = s.state.set_pull_position(0, result.epoch); !done) {
                return done;
            }
            if (auto done = s.engine.rewind_push_ack(0); !done) {
                return done;
            }
            if (auto done = s.engine.forget_server_seqs(); !done) {
                return done;
            }
        }
        return s.state.save_enrollment(Enrollment{request.server_url, answer->token, result.role,
                                                  result.regions, request.ca_file});
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return result;
}

} // namespace caravan::sync::agent
