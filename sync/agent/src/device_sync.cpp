#include "caravan/sync/agent/device_sync.hpp"

#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/agent/sync_lock.hpp"

namespace caravan::sync::agent {

Result<SyncReport> sync_device(client::Engine& engine, const std::filesystem::path& database,
                               const SyncOptions& options, AgentEnvironment env,
                               bool wait_for_lock, LinkTweaks link) {
    CARAVAN_TRY(lock, SyncLock::acquire(database, wait_for_lock));
    (void)lock;
    if (auto ok = AgentState::install(engine.component_storage()); !ok) {
        return tl::unexpected(ok.error());
    }
    AgentState state(engine.component_storage());
    CARAVAN_TRY(enrollment, state.enrollment());
    if (!enrollment) {
        return fail(ErrorCode::not_initialized, msg::not_enrolled);
    }
    CurlOptions curl;
    curl.base_url = enrollment->server_url;
    curl.ca_file = enrollment->ca_file;
    if (link.connect_timeout_s) {
        curl.connect_timeout_s = *link.connect_timeout_s;
    }
    if (link.low_speed_time_s) {
        curl.low_speed_time_s = *link.low_speed_time_s;
    }
    CARAVAN_TRY(transport, CurlTransport::create(curl));
    SyncAgent agent(engine, *transport, std::move(env));
    return agent.sync(options);
}

Result<SyncOverview> sync_overview(client::Engine& engine) {
    if (auto ok = AgentState::install(engine.component_storage()); !ok) {
        return tl::unexpected(ok.error());
    }
    AgentState state(engine.component_storage());
    SyncOverview overview;
    CARAVAN_TRY(enrollment, state.enrollment());
    if (enrollment) {
        overview.enrollment = std::move(*enrollment);
        overview.enrollment->token.clear();
    }
    CARAVAN_TRY(runs, state.log(200));
    for (const auto& run : runs) { // newest first
        if (!overview.last) {
            overview.last = run;
        }
        if (run.result == "ok") {
            overview.last_ok = run;
            break;
        }
    }
    CARAVAN_TRY(quarantined, state.quarantined_count());
    overview.quarantined = quarantined;
    return overview;
}

Result<EnrollResult> enroll_device(client::Engine& engine, const std::filesystem::path& database,
                                   const DeviceEnrollRequest& request, AgentEnvironment env) {
    CARAVAN_TRY(url, normalize_server_url(request.server));
    if (is_insecure_remote_url(url) && !request.insecure_http) {
        return fail(ErrorCode::invalid_input, msg::plain_http);
    }
    CARAVAN_TRY(code, normalize_enroll_code(request.code));
    (void)code;
    std::optional<std::string> ca_file;
    if (request.ca_file) {
        std::error_code ec;
        auto absolute = std::filesystem::absolute(*request.ca_file, ec);
        if (ec || !std::filesystem::is_regular_file(absolute)) {
            return fail(ErrorCode::not_found, msg::ca_file_missing);
        }
        ca_file = absolute.string();
    }
    CARAVAN_TRY(lock, SyncLock::acquire(database, false));
    (void)lock;
    CurlOptions curl;
    curl.base_url = url;
    curl.ca_file = ca_file;
    CARAVAN_TRY(transport, CurlTransport::create(curl));
    SyncAgent agent(engine, *transport, std::move(env));
    return agent.enroll({url, request.code, ca_file});
}

} // namespace caravan::sync::agent
