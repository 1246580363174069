// `caravan enroll`: registers this device with the central server.
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/sync_agent.hpp"
#include "caravan/sync/agent/sync_lock.hpp"
#include "common.hpp"
#include "messages.hpp"

namespace caravan::cli {
namespace {

namespace agent = caravan::sync::agent;

struct EnrollOptions {
    std::string server;
    std::string code;
    std::optional<std::string> ca_file;
    bool insecure_http = false;
};

Result<void> run_enroll(Context& ctx, const EnrollOptions& o) {
    CARAVAN_TRY(url, agent::normalize_server_url(o.server));
    if (agent::is_insecure_remote_url(url) && !o.insecure_http) {
        return fail(ErrorCode::invalid_input, msg::plain_http);
    }
    CARAVAN_TRY(code, agent::normalize_enroll_code(o.code));
    (void)code;
    std::optional<std::string> ca_file;
    if (o.ca_file) {
        std::error_code ec;
        auto absolute = std::filesystem::absolute(*o.ca_file, ec);
        if (ec || !std::filesystem::is_regular_file(absolute)) {
            return fail(ErrorCode::not_found, msg::ca_file_missing);
        }
        ca_file = absolute.string();
    }
    CARAVAN_TRY_ENGINE(engine, ctx);
    CARAVAN_TRY(lock, agent::SyncLock::acquire(ctx.database_path(), false));
    (void)lock;
    agent::CurlOptions curl;
    curl.base_url = url;
    curl.ca_file = ca_file;
    CARAVAN_TRY(transport, agent::CurlTransport::create(curl));
    agent::AgentEnvironment env;
    env.app_version = std::string("caravan/") + CARAVAN_VERSION;
    agent::SyncAgent sync_agent(engine, *transport, env);
    CARAVAN_TRY(result, sync_agent.enroll({url, o.code, ca_file}));
    // The token is stored, never shown.
    if (ctx.json) {
        print_json(ctx, {{"device_id", result.device_id},
                         {"server", url},
                         {"role", result.role},
                         {"regions", result.regions},
                         {"epoch", result.epoch},
                         {"server_time", result.server_time}});
        return {};
    }
    std::string regions;
    for (const auto& r : result.regions) {
        regions += (regions.empty() ? "" : ", ") + r;
    }
    ctx.out << say(ctx, msg::enrolled, {client::short_id(result.device_id), url, result.role})
            << (regions.empty() ? std::string() : " (" + regions + ")") << "\n";
    ctx.out << phrase(ctx, msg::enrolled_next) << "\n";
    return {};
}

const bool registered = register_command("enroll", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<EnrollOptions>();
    auto* cmd = app.add_subcommand(
        "enroll", "Register this device with the central server using a one-time code");
    cmd->add_option("--server", o->server, "Server URL, e.g. https://caravan.example.kz")
        ->required();
    cmd->add_option("--code", o->code, "Enrollment code from the coordinator, e.g. K7Q-94X-2MC")
        ->required();
    cmd->add_option("--ca-file", o->ca_file,
                    "CA certificate bundle (PEM) for a server with a private certificate");
    cmd->add_flag("--insecure-http", o->insecure_http,
                  "Allow a plain http:// server on another machine (trusted networks only)");
    // The earlier spelling, kept working for scripts written against it; hidden from --help.
    cmd->add_flag("--allow-http", o->insecure_http)->group("");
    cmd->callback(
        [&registry, o] { registry.set([o](Context& ctx) { return run_enroll(ctx, *o); }); });
});

} // namespace
} // namespace caravan::cli
