// Attendance as a hall counts it (a grid of age bands × gender for one social category, head
// counts typed quickly, totals as they are typed) and the satisfaction survey.
#include <charconv>

#include "app.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

constexpr std::int64_t k_max_cell = 10000;

// A cell's field name by position ("n_7_0": the 8th age band, the first gender), not by code:
// codes such as "59+" would not survive form encoding everywhere.
std::string cell_name(std::size_t age, std::size_t gender) {
    return "n_" + std::to_string(age) + "_" + std::to_string(gender);
}

// A typed head count: empty is 0; nullopt when not a whole number in range.
std::optional<std::int64_t> head_count(const std::string& text) {
    if (text.empty()) {
        return 0;
    }
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || n < 0 || n > k_max_cell) {
        return std::nullopt;
    }
    return n;
}

Answer attendance_page(const Page& page, const std::string& notice, const std::string& error,
                       const std::string& bad_cell, bool keep) {
    mstch::array genders;
    for (const auto& g : client::enums::gender.values) {
        genders.push_back(mstch::map{{"label", std::string(g.label(page.lang))}});
    }
    mstch::array rows;
    for (std::size_t ai = 0; ai < client::enums::age.values.size(); ++ai) {
        const auto& a = client::enums::age.values[ai];
        mstch::array cells;
        for (std::size_t gi = 0; gi < client::enums::gender.values.size(); ++gi) {
            const auto& g = client::enums::gender.values[gi];
            const std::string name = cell_name(ai, gi);
            cells.push_back(mstch::map{
                {"name", name},
                {"value", keep ? page.form.get(name) : std::string{}},
                {"label", std::string(a.label(page.lang)) + ", " + std::string(g.label(page.lang))},
                {"invalid", name == bad_cell}});
        }
        rows.push_back(mstch::map{{"age", std::string(a.label(page.lang))}, {"cells", cells}});
    }
    mstch::map ctx{
        {"notice", notice},
        {"error", error},
        {"need_visit", need_visit_notice(page)},
        {"intro", tr(page, msg::attendance_intro)},
        {"category_label", tr(page, client::msg::field_category)},
        {"categories", options_of(client::enums::category, page.lang,
                                  {keep ? page.form.get("category") : std::string{}})},
        {"vulnerable_label", tr(page, msg::vulnerable_label)},
        {"vulnerable",
         vulnerable_options(page, keep ? page.form.get("vulnerable") : std::string{})},
        {"col_age", tr(page, msg::col_age)},
        {"col_total", tr(page, msg::col_total)},
        {"genders", genders},
        {"rows", rows},
        {"save", tr(page, msg::save_attendance)},
        {"survey_title", tr(page, msg::survey_title)},
        {"respondents_label", tr(page, msg::survey_respondents)},
        {"satisfied_label", tr(page, msg::survey_satisfied)},
        {"save_survey", tr(page, msg::save_survey)},
    };
    Answer answer = render_page(page, "attendance", tr(page, msg::attendance_title), std::move(ctx));
    if (!error.empty()) {
        answer.status = 400;
    }
    return answer;
}

Answer get_attendance(const Page& page) {
    std::string notice;
    if (page.form.has("people")) {
        notice = tr(page, msg::attendance_saved, {page.form.get("people"), page.form.get("entries")});
    } else if (page.form.has("satisfied")) {
        notice = tr(page, msg::survey_saved,
                    {page.form.get("satisfied"), page.form.get("respondents")});
    }
    return attendance_page(page, notice, {}, {}, false);
}

Answer post_attendance(const Page& page) {
    struct Cell {
        std::string age, gender;
        std::int64_t count;
    };
    std::vector<Cell> cells;
    std::int64_t people = 0;
    for (std::size_t ai = 0; ai < client::enums::age.values.size(); ++ai) {
        const auto& a = client::enums::age.values[ai];
        for (std::size_t gi = 0; gi < client::enums::gender.values.size(); ++gi) {
            const auto& g = client::enums::gender.values[gi];
            const std::string name = cell_name(ai, gi);
            const auto n = head_count(page.form.get(name));
            if (!n) {
                return attendance_page(page, {},
                                       tr(page, msg::cell_not_count,
                                          {std::string(a.label(page.lang)),
                                           std::string(g.label(page.lang))}),
                                       name, true);
            }
            if (*n > 0) {
                cells.push_back({std::string(a.code), std::string(g.code), *n});
                people += *n;
            }
        }
    }
    if (page.form.get("category").empty()) {
        const Error error = make_error(ErrorCode::invalid_input, msg::choose_value,
                                       client::msg::field_category);
        return attendance_page(page, {}, error_text(page, error), {}, true);
    }
    if (cells.empty()) {
        return attendance_page(page, {}, tr(page, msg::attendance_empty), {}, true);
    }
    const auto vulnerable = vulnerable_choice(page);
    if (!vulnerable) {
        return attendance_page(page, {}, error_text(page, vulnerable.error()), {}, true);
    }
    // One transaction: the whole grid is recorded, or none of it.
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        return engine.batch([&]() -> Result<void> {
            for (const auto& c : cells) {
                client::AttendanceInput input;
                input.person.gender = c.gender;
                input.person.age = c.age;
                input.person.category = page.form.get("category");
                input.person.vulnerable = *vulnerable;
                input.count = c.count;
                auto added = engine.add_attendance(input);
                if (!added) {
                    return tl::unexpected(added.error());
                }
            }
            return {};
        });
    });
    if (!done) {
        return attendance_page(page, {}, error_text(page, done.error()), {}, true);
    }
    return redirect("/attendance?people=" + std::to_string(people) +
                    "&entries=" + std::to_string(cells.size()));
}

Answer post_survey(const Page& page) {
    const auto number = [&](const char* name) { return head_count(page.form.get(name)); };
    const auto respondents = number("respondents");
    const auto satisfied = number("satisfied");
    if (!respondents || !satisfied) {
        const Error error = make_error(ErrorCode::invalid_input, msg::number_needed,
                                       client::msg::field(!respondents ? "respondents" : "satisfied"));
        return attendance_page(page, {}, error_text(page, error), {}, true);
    }
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto added = engine.add_survey(client::SurveyInput{std::nullopt, *respondents, *satisfied});
        if (!added) {
            return tl::unexpected(added.error());
        }
        return {};
    });
    if (!done) {
        return attendance_page(page, {}, error_text(page, done.error()), {}, true);
    }
    return redirect("/attendance?respondents=" + std::to_string(*respondents) +
                    "&satisfied=" + std::to_string(*satisfied));
}

} // namespace

void add_attendance_routes(Routes& routes) {
    routes.get.emplace("/attendance", get_attendance);
    routes.post.emplace("/attendance", post_attendance);
    routes.post.emplace("/survey", post_survey);
}

} // namespace caravan::ui
