#include "verifier.hpp"

#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/protocol/verify.hpp"

namespace caravan::sync::agent {

using storage::Event;

Result<VerifyReport> verify_with_server(Session& s, Exchanger& exchanger) {
    auto cursor = s.state.pull_cursor();
    if (!cursor) {
        return tl::unexpected(cursor.error());
    }
    auto body = body_of_ok(exchanger.get(target(VerifyQuery{*cursor})));
    if (!body) {
        return tl::unexpected(body.error());
    }
    auto server = verify_response_from_json(*body);
    if (!server) {
        return fail(ErrorCode::protocol, msg::verify_incomplete);
    }
    VerifyReport v;
    v.upto = server->upto;
    v.server_count = server->count;
    v.server_digest = server->digest;
    SetDigest local;
    constexpr std::int64_t k_page = 1000;
    std::int64_t after = 0;
    for (;;) {
        std::int64_t last_position = after;
        auto visited = s.engine.scan_events(after, k_page, [&](const Event& e) {
            last_position = e.log_position;
            if (e.server_seq && *e.server_seq <= v.upto) {
                local.add(e);
            }
            return true;
        });
        if (!visited) {
            return tl::unexpected(visited.error());
        }
        if (*visited < k_page) {
            break;
        }
        after = last_position;
    }
    v.local_count = local.count();
    v.local_digest = local.hex();
    v.agree = v.local_count == v.server_count && v.local_digest == v.server_digest;
    return v;
}

} // namespace caravan::sync::agent
