#include "caravan/client/messages.hpp"
#include "common.hpp"
#include "messages.hpp"

namespace caravan::cli {
namespace {

const bool registered = register_command("visit", [](CLI::App& app, Registry& registry) {
    auto* visit = app.add_subcommand("visit", "Caravan visits: one village on one day");
    visit->require_subcommand(1);

    struct StartOptions {
        std::string village;
        std::optional<std::string> date;
    };
    auto s = std::make_shared<StartOptions>();
    auto* start = visit->add_subcommand("start", "Start a visit; it becomes the current visit");
    start->add_option("--village", s->village, "Village name or id")->required();
    start->add_option("--date", s->date, "Date YYYY-MM-DD (default: today)");
    start->callback([&registry, s] {
        registry.set([s](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(v, engine.start_visit(s->village, s->date));
            if (ctx.json) {
                print_json(ctx, client::to_json(v));
            } else {
                print_visit_line(ctx, v);
            }
            // The new visit is the current one; the lawyer's other open visits stay open, which
            // is rarely meant (a forgotten `visit close`): say which, on stderr.
            CARAVAN_TRY(device, engine.device());
            CARAVAN_TRY(visits, engine.list_visits());
            std::string others;
            std::size_t count = 0;
            for (const auto& other : visits) {
                if (other.closed || other.id == v.id || other.lawyer != device.lawyer) {
                    continue;
                }
                ++count;
                others += (others.empty() ? "" : ", ") + client::short_id(other.id) + " " +
                          shown(other.village) + " " + shown(other.date);
            }
            if (count > 0) {
                const Language lang = client::message_lang(ctx.lang);
                ctx.err << render(msg::other_visits_open.text(lang), {count, others}, lang) << "\n";
            }
            return {};
        });
    });

    auto ref = std::make_shared<std::optional<std::string>>();
    auto* close = visit->add_subcommand("close", "Close a visit (default: the current one)");
    close->add_option("visit", *ref, "Visit id, id fragment or village name");
    close->callback([&registry, ref] {
        registry.set([ref](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(v, engine.close_visit(*ref));
            if (ctx.json) {
                print_json(ctx, client::to_json(v));
            } else {
                print_visit_line(ctx, v);
            }
            return {};
        });
    });

    auto* list = visit->add_subcommand("list", "List visits");
    list->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(visits, engine.list_visits());
            if (ctx.json) {
                print_json_array(ctx, visits);
                return {};
            }
            std::vector<std::vector<std::string>> rows;
            for (const auto& v : visits) {
                rows.push_back(
                    {client::short_id(v.id), v.date, v.village, v.region, v.lawyer,
                     std::string(phrase(ctx, v.closed ? msg::word_closed : msg::word_open))});
            }
            print_table(ctx.out,
                        {std::string("id"), std::string(phrase(ctx, msg::word_date)),
                         std::string(phrase(ctx, msg::word_village)),
                         std::string(phrase(ctx, msg::word_region)),
                         std::string(phrase(ctx, msg::word_lawyer)),
                         std::string(phrase(ctx, msg::word_status))},
                        rows);
            return {};
        });
    });

    auto* current = visit->add_subcommand("current", "Show the current visit");
    current->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(v, engine.current_visit());
            if (ctx.json) {
                print_json(ctx, v ? client::to_json(*v) : nlohmann::json(nullptr));
            } else if (v) {
                print_visit_line(ctx, *v);
            } else {
                ctx.out << phrase(ctx, msg::word_current_visit) << ": "
                        << phrase(ctx, msg::word_none) << "\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
