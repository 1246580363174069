// caravan export journal, caravan report indicators|breakdown: on the device database. The
// commands themselves (options, checks, output) are shared with caravan-server:
// ../export_commands.hpp.

#include "common.hpp"

#include "../export_commands.hpp"

namespace caravan::cli {
namespace {

// Runs an export command on the device database with the global --json and --lang.
ExportHost device_host(Registry& registry) {
    ExportHost host;
    host.set_action = [&registry](ExportAction action) {
        registry.set([action](Context& ctx) -> Result<void> {
            ExportIo io{ctx.out, ctx.err, ctx.json, ctx.lang, "caravan"};
            return action(io, [&ctx]() -> Result<storage::Database*> {
                CARAVAN_TRY_ENGINE(engine, ctx);
                return &engine.database();
            });
        });
    };
    return host;
}

const bool export_registered = register_command("export", [](CLI::App& app, Registry& registry) {
    add_export_commands(app, device_host(registry));
});

const bool report_registered = register_command("report", [](CLI::App& app, Registry& registry) {
    add_report_commands(app, device_host(registry));
});

} // namespace
} // namespace caravan::cli
