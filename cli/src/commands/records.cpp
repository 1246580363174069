// attend add, survey add, photo add: records taken at the current visit.
#include "common.hpp"

namespace caravan::cli {
namespace {

void add_person_options(CLI::App* cmd, client::PersonInput& p) {
    cmd->add_option("--gender", p.gender, "female, male or unrecorded")->required();
    cmd->add_option("--age", p.age, "0-12, 13-16, 17-22, 23-27, 28-32, 33-45, 46-58, 59+ or unrecorded")
        ->required();
    cmd->add_option("--category", p.category,
                    "children, youth, civil-servant, public-sector, disability, older, "
                    "unemployed, ngo, business, other or unrecorded")
        ->required();
    add_vulnerable_flags(cmd, p.vulnerable, "Belongs to a socially vulnerable group");
}

const bool attend = register_command("attend", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("attend", "Attendance at a visit: people or head counts");
    group->require_subcommand(1);
    auto in = std::make_shared<client::AttendanceInput>();
    auto* add = group->add_subcommand("add", "Record one person, or a head count with --count");
    add_person_options(add, in->person);
    add->add_option("--count", in->count, "Number of people with this breakdown (default 1)");
    add->add_option("--visit", in->visit, "Visit (default: the current visit)");
    add->callback([&registry, in] {
        registry.set([in](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(a, engine.add_attendance(*in));
            if (ctx.json) {
                print_json(ctx, client::to_json(a));
            } else {
                ctx.out << phrase(ctx, msg::word_saved) << " " << client::short_id(a.id) << ": "
                        << a.count << " × " << label(ctx, client::enums::gender, a.person.gender)
                        << ", " << label(ctx, client::enums::age, a.person.age) << ", "
                        << label(ctx, client::enums::category, a.person.category) << "\n";
            }
            return {};
        });
    });
});

const bool survey = register_command("survey", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("survey", "Satisfaction surveys taken at a visit");
    group->require_subcommand(1);
    auto in = std::make_shared<client::SurveyInput>();
    auto* add = group->add_subcommand("add", "Record survey answers");
    add->add_option("--respondents", in->respondents, "How many answered")->required();
    add->add_option("--satisfied", in->satisfied, "How many were satisfied")->required();
    add->add_option("--visit", in->visit, "Visit (default: the current visit)");
    add->callback([&registry, in] {
        registry.set([in](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(s, engine.add_survey(*in));
            if (ctx.json) {
                print_json(ctx, client::to_json(s));
            } else {
                ctx.out << phrase(ctx, msg::word_saved) << " " << client::short_id(s.id) << ": "
                        << s.satisfied << "/" << s.respondents << "\n";
            }
            return {};
        });
    });
});

const bool photo = register_command("photo", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("photo", "Photo metadata (the files stay where they are)");
    group->require_subcommand(1);
    struct Options {
        std::vector<std::string> files;
        client::PhotoInput input;
    };
    auto o = std::make_shared<Options>();
    auto* add = group->add_subcommand("add", "Record photo metadata: hash, size, time, GPS");
    add->add_option("files", o->files, "Image files")->required();
    add->add_option("--caption", o->input.caption, "Caption");
    add->add_flag("--consent", o->input.consent, "The people shown consented to the photo");
    add->add_option("--visit", o->input.visit, "Visit (default: the current visit)");
    add->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            client::PhotoInput input = o->input;
            input.files.assign(o->files.begin(), o->files.end());
            CARAVAN_TRY(added, engine.add_photos(input));
            if (ctx.json) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& a : added) {
                    auto j = client::to_json(a.photo);
                    j["duplicate"] = a.duplicate;
                    out.push_back(j);
                }
                print_json(ctx, out);
                return {};
            }
            for (const auto& a : added) {
                ctx.out << (a.duplicate ? phrase(ctx, msg::word_duplicate) : phrase(ctx, msg::word_saved)) << " "
                        << client::short_id(a.photo.id) << ": " << a.photo.file_name.value_or("")
                        << " " << a.photo.sha256.substr(0, 12) << " "
                        << a.photo.taken_at.value_or("") << "\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
