// caravan export journal, caravan report indicators|breakdown: on the device database. The
// commands themselves (options, checks, output) are shared with caravan-server:
// ../export_commands.hpp.

#include <optional>

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
            // The export reads through the engine's connection made read-only (Engine::ReadView:
            // a second connection could not read a full disk's database), until it is done.
            std::optional<client::Engine::ReadView> view;
            return action(io, [&ctx, &view]() -> Result<storage::Database*> {
                CARAVAN_TRY_ENGINE(engine, ctx);
                auto opened = engine.read_view();
                if (!opened) {
                    return tl::unexpected(opened.error());
                }
                view.emplace(std::move(*opened));
                return &view->database();
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
