#include "common.hpp"

namespace caravan::cli {

std::string device_owner(const client::Device& device) {
    return device.region.empty() ? device.lawyer : device.lawyer + ", " + device.region;
}

void print_visit_line(Context& ctx, const client::Visit& v) {
    ctx.out << phrase(ctx, msg::word_visit) << " " << client::short_id(v.id) << ": "
            << shown(v.village) << " (" << shown(v.region) << "), " << shown(v.date) << ", "
            << shown(v.lawyer) << ", " << phrase(ctx, v.closed ? msg::word_closed : msg::word_open)
            << "\n";
}

void add_vulnerable_flags(CLI::App* cmd, std::optional<bool>& flag, const std::string& yes_help) {
    auto* yes = cmd->add_flag_callback("--vulnerable", [&flag] { flag = true; }, yes_help);
    auto* no = cmd->add_flag_callback(
        "--not-vulnerable", [&flag] { flag = false; },
        "Does not belong to a socially vulnerable group (neither flag: not recorded)");
    yes->excludes(no);
}

void print_consultation(Context& ctx, const client::Consultation& c) {
    auto line = [&](const Message& key, const std::string& value) {
        ctx.out << phrase(ctx, key) << ": " << shown(value) << "\n";
    };
    auto note = [&](const Message& key, const std::string& value) {
        ctx.out << phrase(ctx, key) << ": " << shown_note(value) << "\n";
    };
    ctx.out << "id: " << shown(c.id) << "\n"; // the same word in every language
    line(msg::word_date, c.date);
    line(msg::word_village, c.village + " (" + c.region + ")");
    line(msg::word_lawyer, c.lawyer);
    line(msg::word_gender, label(ctx, client::enums::gender, c.person.gender));
    line(msg::word_age, label(ctx, client::enums::age, c.person.age));
    line(msg::word_category, label(ctx, client::enums::category, c.person.category));
    line(msg::word_vulnerable, yes_no(ctx, c.person.vulnerable));
    line(msg::word_topics, labels(ctx, client::enums::topic, c.topics));
    line(msg::word_outcome, label(ctx, client::enums::outcome, c.outcome));
    note(msg::word_question, c.question);
    note(msg::word_advice, c.advice);
    line(msg::word_follow_up, yes_no(ctx, c.follow_up));
    line(msg::word_language, c.lang ? label(ctx, client::enums::language, *c.lang) : "");
}

} // namespace caravan::cli
