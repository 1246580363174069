#include "session.hpp"

#include "caravan/client/hlc.hpp"
#include "caravan/sync/agent/messages.hpp"

namespace caravan::sync::agent {

std::string iso_of(TimePoint t) {
    auto ms = std::chrono::duration_cast<Millis>(t.time_since_epoch()).count();
    return client::Hlc::from_parts(ms, 0).to_iso();
}

Session::Session(client::Engine& e, const AgentEnvironment& environment, const SyncTuning& t,
                 std::optional<TimePoint> deadline)
    : engine(e), state(e.component_storage()), env(environment), tuning(t), until(deadline) {}

std::int64_t Session::now_ms() const {
    return std::chrono::duration_cast<Millis>(now().time_since_epoch()).count();
}

void Session::progress(std::string_view phase, std::int64_t done, std::int64_t total) const {
    if (env.progress) {
        env.progress(Progress{phase, done, total});
    }
}

Result<void> Session::load_identity() {
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

} // namespace caravan::sync::agent
