#include "common.hpp"

namespace caravan::cli {
namespace {

const bool registered = register_command("init", [](CLI::App& app, Registry& registry) {
    struct Options {
        std::string lawyer, role = "lawyer";
        std::optional<std::string> region;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("init", "Create this device's identity (once per database)");
    cmd->add_option("--lawyer", o->lawyer, "Name of the lawyer (or coordinator) using this device")
        ->required();
    cmd->add_option("--region", o->region,
                    "Home region, e.g. \"Жамбыл обл.\" (required for a lawyer's device)");
    cmd->add_option("--role", o->role,
                    "lawyer (default) or coordinator: a coordinator's device has no home region")
        ->check(CLI::IsMember({"lawyer", "coordinator"}));
    cmd->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            if (o->role == "lawyer" && !o->region) {
                return fail(ErrorCode::invalid_input, msg::init_region_required);
            }
            ctx.may_create = true;
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(device, o->region ? engine.init(o->lawyer, *o->region)
                                          : engine.init_coordinator(o->lawyer));
            if (ctx.json) {
                print_json(ctx, client::to_json(device));
            } else {
                ctx.out << phrase(ctx, msg::word_device) << " " << device.id << ": "
                        << shown(device_owner(device)) << " (" << ctx.database_path().string()
                        << ")\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
