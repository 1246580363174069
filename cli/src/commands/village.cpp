#include "common.hpp"

namespace caravan::cli {
namespace {

void print_village(Context& ctx, const client::Village& v) {
    ctx.out << phrase(ctx, msg::word_village) << " " << client::short_id(v.id) << ": "
            << shown(v.name) << " (" << shown(v.region)
            << (v.district ? ", " + shown(*v.district) : "") << ")\n";
}

const bool registered = register_command("village", [](CLI::App& app, Registry& registry) {
    auto* village = app.add_subcommand("village", "Villages the caravan visits");
    village->require_subcommand(1);

    struct AddOptions {
        std::string name, region;
        std::optional<std::string> district;
        std::optional<double> lat, lon;
    };
    auto a = std::make_shared<AddOptions>();
    auto* add = village->add_subcommand("add", "Add a village");
    add->add_option("name", a->name, "Village name")->required();
    add->add_option("--region", a->region, "Region, e.g. \"Ақтөбе обл.\"")->required();
    add->add_option("--district", a->district, "District");
    add->add_option("--lat", a->lat, "Latitude (decimal degrees)");
    add->add_option("--lon", a->lon, "Longitude (decimal degrees)");
    add->callback([&registry, a] {
        registry.set([a](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(v, engine.add_village({a->name, a->region, a->district, a->lat, a->lon}));
            if (ctx.json) {
                print_json(ctx, client::to_json(v));
            } else {
                print_village(ctx, v);
            }
            return {};
        });
    });

    auto region = std::make_shared<std::optional<std::string>>();
    auto* list = village->add_subcommand("list", "List villages");
    list->add_option("--region", *region, "Only this region");
    list->callback([&registry, region] {
        registry.set([region](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(villages, engine.list_villages(*region));
            if (ctx.json) {
                print_json_array(ctx, villages);
                return {};
            }
            std::vector<std::vector<std::string>> rows;
            for (const auto& v : villages) {
                rows.push_back({client::short_id(v.id), v.name, v.region, v.district.value_or("")});
            }
            print_table(ctx.out,
                        {std::string("id"), std::string(phrase(ctx, msg::word_village)),
                         std::string(phrase(ctx, msg::word_region)),
                         std::string(phrase(ctx, msg::word_district))},
                        rows);
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
