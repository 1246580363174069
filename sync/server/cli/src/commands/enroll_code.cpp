// caravan-server enroll-code: issues a single-use enrollment code (DeviceRegistry::create_code).

#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/data_dir.hpp"

namespace caravan::sync::server {
namespace {

namespace fs = std::filesystem;

Result<void> enroll_code(Context& ctx, const CodeRequest& request) {
    StoreOptions o;
    o.integrity_check = false;
    // The directory is created owner-only like `serve` would; no lock is needed to add a code.
    std::error_code ec;
    if (!fs::exists(ctx.data, ec)) {
        if (auto lock = DataDirLock::acquire(ctx.data); !lock) {
            return tl::unexpected(lock.error());
        }
    }
    auto store = open_store(ctx, o);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto code = (*store)->registry().create_code(request);
    if (!code) {
        return tl::unexpected(code.error());
    }
    ctx.out << *code << "\n";
    ctx.err << "caravan-server: single-use code for a " << to_string(request.role) << ", valid "
            << request.ttl_hours << " h\n";
    return {};
}

struct Options {
    CodeRequest code;
    std::string role = "lawyer";
};

const bool registered = register_command("enroll-code", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("enroll-code", "Issue a single-use enrollment code");
    registry.add_data(*cmd);
    registry.add_store(*cmd);
    cmd->add_option("--lawyer", o->code.lawyer, "Name of the lawyer the device belongs to")
        ->required();
    cmd->add_option("--region", o->code.regions, "Region the device may sync (repeatable)");
    cmd->add_option("--role", o->role, "lawyer or coordinator")
        ->check(CLI::IsMember({"lawyer", "coordinator"}))
        ->capture_default_str();
    cmd->add_option("--ttl", o->code.ttl_hours, "Hours the code stays valid")
        ->capture_default_str();
    cmd->callback([&registry, o] {
        o->code.role = parse_role(o->role).value_or(Role::lawyer);
        registry.set([o](Context& ctx) { return enroll_code(ctx, o->code); });
    });
});

} // namespace
} // namespace caravan::sync::server
