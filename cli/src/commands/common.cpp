#include "common.hpp"

namespace caravan::cli {

void print_visit_line(Context& ctx, const client::Visit& v) {
    ctx.out << phrase(ctx, "visit") << " " << client::short_id(v.id) << ": " << shown(v.village)
            << " (" << shown(v.region) << "), " << shown(v.date) << ", " << shown(v.lawyer) << ", "
            << phrase(ctx, v.closed ? "closed" : "open") << "\n";
}

void print_consultation(Context& ctx, const client::Consultation& c) {
    auto line = [&](std::string_view key, const std::string& value) {
        ctx.out << phrase(ctx, key) << ": " << shown(value) << "\n";
    };
    auto note = [&](std::string_view key, const std::string& value) {
        ctx.out << phrase(ctx, key) << ": " << shown_note(value) << "\n";
    };
    line("id", c.id);
    line("date", c.date);
    line("village", c.village + " (" + c.region + ")");
    line("lawyer", c.lawyer);
    line("gender", label(ctx, client::enums::gender, c.person.gender));
    line("age", label(ctx, client::enums::age, c.person.age));
    line("category", label(ctx, client::enums::category, c.person.category));
    line("vulnerable", yes_no(ctx, c.person.vulnerable));
    line("topics", labels(ctx, client::enums::topic, c.topics));
    line("outcome", label(ctx, client::enums::outcome, c.outcome));
    note("question", c.question);
    note("advice", c.advice);
    line("follow-up", yes_no(ctx, c.follow_up));
    line("language", c.lang ? label(ctx, client::enums::language, *c.lang) : "");
}

} // namespace caravan::cli
