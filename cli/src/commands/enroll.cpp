// `caravan enroll`: registers this device with the central server.
#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/device_sync.hpp"
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
    CARAVAN_TRY_ENGINE(engine, ctx);
    agent::AgentEnvironment env;
    env.app_version = std::string("caravan/") + CARAVAN_VERSION;
    agent::DeviceEnrollRequest request{o.server, o.code, std::nullopt, o.insecure_http};
    if (o.ca_file) {
        request.ca_file = *o.ca_file;
    }
    CARAVAN_TRY(result, agent::enroll_device(engine, ctx.database_path(), request, env));
    CARAVAN_TRY(url, agent::normalize_server_url(o.server));
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
