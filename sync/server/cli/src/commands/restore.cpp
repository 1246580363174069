// caravan-server restore FILE: replaces the database with a backup (maintenance.hpp).

#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/maintenance.hpp"

namespace caravan::sync::server {
namespace {

namespace fs = std::filesystem;

Result<void> run_restore(Context& ctx, const fs::path& file) {
    auto result = restore(ctx.data, file);
    if (!result) {
        return tl::unexpected(result.error());
    }
    ctx.out << "restored " << file.string() << "; new epoch " << result->epoch << "\n";
    if (!result->replaced.empty()) {
        ctx.out << "the previous database was kept as " << result->replaced.string() << "\n";
    }
    return {};
}

const bool registered = register_command("restore", [](CLI::App& app, Registry& registry) {
    auto file = std::make_shared<std::string>();
    auto* cmd =
        app.add_subcommand("restore", "Replace the database with a backup (server stopped)");
    registry.add_data(*cmd);
    cmd->add_option("FILE", *file, "Backup file to restore")->required();
    cmd->callback([&registry, file] {
        registry.set([file](Context& ctx) { return run_restore(ctx, *file); });
    });
});

} // namespace
} // namespace caravan::sync::server
