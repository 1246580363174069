// caravan-server backup FILE: an online backup of the server database (maintenance.hpp).

#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/maintenance.hpp"

namespace caravan::sync::server {
namespace {

namespace fs = std::filesystem;

Result<void> run_backup(Context& ctx, const fs::path& file) {
    if (auto ok = backup(ctx.data, file); !ok) {
        return ok;
    }
    ctx.out << "backup written to " << file.string() << "\n";
    return {};
}

const bool registered = register_command("backup", [](CLI::App& app, Registry& registry) {
    auto file = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("backup", "Online backup of the server database");
    registry.add_data(*cmd);
    cmd->add_option("FILE", *file, "Backup file to write")->required();
    cmd->callback([&registry, file] {
        registry.set([file](Context& ctx) { return run_backup(ctx, *file); });
    });
});

} // namespace
} // namespace caravan::sync::server
