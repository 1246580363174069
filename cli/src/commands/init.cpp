#include "common.hpp"

namespace caravan::cli {
namespace {

const bool registered = register_command("init", [](CLI::App& app, Registry& registry) {
    struct Options {
        std::string lawyer, region;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("init", "Create this device's identity (once per database)");
    cmd->add_option("--lawyer", o->lawyer, "Name of the lawyer using this device")->required();
    cmd->add_option("--region", o->region, "Home region, e.g. \"Жамбыл обл.\"")->required();
    cmd->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            ctx.may_create = true;
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(device, engine.init(o->lawyer, o->region));
            if (ctx.json) {
                print_json(ctx, client::to_json(device));
            } else {
                ctx.out << phrase(ctx, msg::word_device) << " " << device.id << ": "
                        << device.lawyer << ", " << device.region << " ("
                        << ctx.database_path().string() << ")\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
