// caravan-server check: integrity check; projections rebuilt from the log must match. With
// --store, of the PostgreSQL store (--data then holds this process's projection cache).

#include <memory>
#include <ostream>

#include <nlohmann/json.hpp>

#include "../app.hpp"
#include "caravan/sync/server/maintenance.hpp"

namespace caravan::sync::server {
namespace {

using nlohmann::json;

Result<void> run_check(Context& ctx, bool as_json) {
    auto report = ctx.store.empty()
                      ? check(ctx.data)
                      : check_postgresql(std::make_shared<pg::Pool>(ctx.store, 2), ctx.data);
    if (!report) {
        return tl::unexpected(report.error());
    }
    if (as_json) {
        ctx.out << json{{"ok", report->ok()},
                        {"problems", report->problems},
                        {"events", report->events},
                        {"rejected", report->rejected},
                        {"devices", report->devices},
                        {"fingerprint", report->fingerprint},
                        {"rebuilt_fingerprint", report->rebuilt_fingerprint}}
                       .dump(2)
                << "\n";
    } else {
        for (const auto& p : report->problems) {
            ctx.out << "problem: " << p << "\n";
        }
        ctx.out << (report->ok() ? "ok" : "FAILED") << ": " << report->events << " events, "
                << report->rejected << " rejected, " << report->devices << " devices; projections "
                << report->fingerprint.substr(0, 16)
                << (report->fingerprint == report->rebuilt_fingerprint ? " == " : " != ")
                << "rebuilt " << report->rebuilt_fingerprint.substr(0, 16) << "\n";
    }
    if (!report->ok()) {
        return fail(ErrorCode::corrupt,
                    "the check found " + std::to_string(report->problems.size()) + " problem(s)");
    }
    return {};
}

const bool registered = register_command("check", [](CLI::App& app, Registry& registry) {
    auto as_json = std::make_shared<bool>(false);
    auto* cmd =
        app.add_subcommand("check", "Integrity check; projections rebuilt from the log must match");
    registry.add_data(*cmd);
    registry.add_store(*cmd);
    cmd->add_flag("--json", *as_json, "Print one JSON document");
    cmd->callback([&registry, as_json] {
        registry.set([as_json](Context& ctx) { return run_check(ctx, *as_json); });
    });
});

} // namespace
} // namespace caravan::sync::server
