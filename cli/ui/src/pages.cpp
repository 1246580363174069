// The pages: the first run, today (visits), the consultation form and the list.
#include <algorithm>

#include "app.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

constexpr std::size_t k_list_limit = 200;

std::string field_label(const Page& page, const Message& word) {
    return tr(page, word);
}

// ---- first run and today ------------------------------------------------------------------

Answer setup_page(const Page& page, const std::string& error) {
    return render_page(page, "setup", tr(page, msg::setup_title),
                       {{"intro", tr(page, msg::setup_intro)},
                        {"lawyer_label", tr(page, msg::setup_lawyer)},
                        {"region_label", tr(page, msg::setup_region)},
                        {"save", tr(page, msg::setup_save)},
                        {"lawyer", page.form.get("lawyer")},
                        {"region", page.form.get("region")},
                        {"error", error}});
}

Answer home(const Page& page, const std::string& notice, const std::string& error) {
    mstch::map ctx{{"notice", notice}, {"error", error}};
    bool initialised = true;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto st = engine.status();
        if (!st) {
            return tl::unexpected(st.error());
        }
        if (!st->device) {
            initialised = false;
            return {};
        }
        auto villages = engine.list_villages();
        if (!villages) {
            return tl::unexpected(villages.error());
        }
        // Only the villages this lawyer may record in (all of them on a coordinator's laptop).
        mstch::array vs;
        for (const auto& v : *villages) {
            CARAVAN_TRY(allowed, engine.may_record_in(v.region));
            if (!allowed) {
                continue;
            }
            vs.push_back(mstch::map{{"id", v.id},
                                    {"name", v.name + " (" + v.region + ")"},
                                    {"chosen", page.form.get("village") == v.id}});
        }
        ctx.emplace("villages", vs);
        // A new village goes into one of the lawyer's regions: the device's own, or a choice
        // among the enrolled ones.
        CARAVAN_TRY(regions, engine.recording_regions());
        mstch::array region_options;
        for (const auto& r : regions ? *regions : std::vector<std::string>{st->device->region}) {
            region_options.push_back(mstch::map{
                {"name", r}, {"chosen", page.form.has("new_region") ? page.form.get("new_region") == r
                                                                   : r == st->device->region}});
        }
        ctx.emplace("regions", region_options);
        ctx.emplace("several_regions", region_options.size() > 1);
        ctx.emplace("counts", tr(page, msg::counts_line, {st->consultations, st->unsynced}));
        if (st->current_visit) {
            // This visit's consultations so far, newest last, as the lawyer recorded them.
            mstch::array rows;
            client::ConsultationFilter filter;
            filter.visit = st->current_visit->id;
            auto listed = engine.list_consultations(filter, [&](const client::Consultation& c) {
                std::string topics;
                for (const auto& t : c.topics) {
                    topics += (topics.empty() ? "" : ", ") +
                              std::string(client::enums::topic.label(t, page.lang));
                }
                rows.push_back(mstch::map{
                    {"full_id", c.id},
                    {"id", client::short_id(c.id)},
                    {"person", std::string(client::enums::gender.label(c.person.gender, page.lang)) +
                                   ", " + std::string(client::enums::age.label(c.person.age, page.lang))},
                    {"topics", topics},
                    {"outcome", std::string(client::enums::outcome.label(c.outcome, page.lang))}});
                return true;
            });
            if (!listed) {
                return tl::unexpected(listed.error());
            }
            ctx.emplace("current", mstch::map{{"village", st->current_visit->village},
                                              {"date", st->current_visit->date},
                                              {"visit_count", tr(page, msg::visit_count, {rows.size()})},
                                              {"any_rows", !rows.empty()},
                                              {"rows", rows}});
        }
        ctx.emplace("region", st->device->region);
        return {};
    });
    if (!done) {
        if (done.error().code == ErrorCode::not_initialized) {
            return setup_page(page, {});
        }
        ctx["error"] = error_text(page, done.error());
    }
    if (!initialised) {
        return setup_page(page, {});
    }
    ctx.emplace("start_visit_title", tr(page, msg::start_visit_title));
    ctx.emplace("village_label", tr(page, msg::village_pick));
    ctx.emplace("choose", tr(page, msg::choose_village));
    ctx.emplace("village_new", tr(page, msg::village_new));
    ctx.emplace("village_new_label", tr(page, msg::village_new_name));
    ctx.emplace("region_label", tr(page, client::msg::field_region));
    ctx.emplace("date_label", tr(page, msg::visit_date));
    ctx.emplace("date", page.form.has("date") ? page.form.get("date") : client::today());
    ctx.emplace("new_village", page.form.get("new_village"));
    ctx.emplace("start", tr(page, msg::start_visit));
    ctx.emplace("close", tr(page, msg::close_visit));
    ctx.emplace("new_consultation", tr(page, msg::consult_title));
    return render_page(page, "home", tr(page, msg::home_title), std::move(ctx));
}

Answer post_setup(const Page& page) {
    client::Device device;
    auto done = page.engine.create([&](client::Engine& engine) -> Result<void> {
        auto made = engine.init(page.form.get("lawyer"), page.form.get("region"));
        if (!made) {
            return tl::unexpected(made.error());
        }
        device = *made;
        return {};
    });
    if (!done) {
        return setup_page(page, error_text(page, done.error()));
    }
    return redirect("/");
}

Answer post_start_visit(const Page& page) {
    client::Visit visit;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        return engine.batch([&]() -> Result<void> {
            std::string village = page.form.get("village");
            if (const std::string name = page.form.get("new_village"); !name.empty()) {
                CARAVAN_TRY(device, engine.device());
                const std::string chosen = page.form.get("new_region");
                auto added = engine.add_village(
                    client::VillageInput{name, chosen.empty() ? device.region : chosen, {}, {}, {}});
                if (!added) {
                    return tl::unexpected(added.error());
                }
                village = added->id;
            }
            const std::string date = page.form.get("date");
            auto started = engine.start_visit(village, date.empty() ? std::nullopt
                                                                    : std::optional(date));
            if (!started) {
                return tl::unexpected(started.error());
            }
            visit = *started;
            return {};
        });
    });
    if (!done) {
        return home(page, {}, error_text(page, done.error()));
    }
    return redirect("/?started=1");
}

Answer post_close_visit(const Page& page) {
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto closed = engine.close_visit(std::nullopt);
        if (!closed) {
            return tl::unexpected(closed.error());
        }
        return {};
    });
    if (!done) {
        return home(page, {}, error_text(page, done.error()));
    }
    return redirect("/");
}

Answer get_home(const Page& page) {
    return home(page, {}, {});
}

// ---- the consultation form ----------------------------------------------------------------

Answer consult_form(const Page& page, const std::string& notice, const Error* error,
                    bool keep_values) {
    const auto value = [&](const char* name, const char* fallback = "") {
        return keep_values ? page.form.get(name) : std::string(fallback);
    };
    const std::string error_field = error ? field_of(*error) : std::string{};
    const std::string error_message = error ? error_text(page, *error) : std::string{};
    const auto field = [&](const char* name, const Message& word, mstch::map extra = {}) {
        extra.emplace("name", std::string(name));
        extra.emplace("label", field_label(page, word));
        extra.emplace("error", error_field == name ? error_message : std::string{});
        return extra;
    };
    std::vector<std::string> topics = keep_values ? page.form.all("topic") : std::vector<std::string>{};
    mstch::map ctx{
        {"notice", notice},
        {"error", error && error_field.empty() ? error_message : std::string{}},
        {"fix_fields", error && !error_field.empty() ? tr(page, msg::fix_fields) : std::string{}},
        {"need_visit", need_visit_notice(page)},
        {"person_legend", tr(page, msg::person_legend)},
        {"topics_legend", tr(page, msg::topics_legend)},
        {"gender", field("gender", client::msg::field_gender,
                         {{"options", options_of(client::enums::gender, page.lang,
                                                 {value("gender")})}})},
        {"age", field("age", client::msg::field_age,
                      {{"options", options_of(client::enums::age, page.lang, {value("age")})}})},
        {"category", field("category", client::msg::field_category,
                           {{"options", options_of(client::enums::category, page.lang,
                                                   {value("category")})}})},
        {"topic", field("topic", client::msg::field_topic,
                        {{"options", options_of(client::enums::topic, page.lang, topics)}})},
        {"outcome", field("outcome", client::msg::field_outcome,
                          {{"options", options_of(client::enums::outcome, page.lang,
                                                  {value("outcome")})}})},
        {"clang", field("lang", client::msg::field_lang,
                        {{"options", options_of(client::enums::language, page.lang,
                                                {value("clang", page.lang == client::Lang::ru
                                                                    ? "ru" : "kk")})}})},
        {"question", field("question", client::msg::field_question,
                           {{"value", value("question")}})},
        {"advice", field("advice", client::msg::field_advice, {{"value", value("advice")}})},
        {"vulnerable_label", tr(page, msg::vulnerable_label)},
        {"vulnerable", vulnerable_options(page, value("vulnerable"))},
        {"vulnerable_error", error_field == "vulnerable" ? error_message : std::string{}},
        {"follow_up_label", tr(page, msg::follow_up_label)},
        {"follow_up", keep_values && page.form.has("follow_up")},
        {"lang_label", tr(page, msg::consult_lang_label)},
        {"save", tr(page, msg::save_consultation)},
        {"draft_restored", tr(page, msg::draft_restored)},
        {"saved", !notice.empty()},
    };
    Answer answer = render_page(page, "consult", tr(page, msg::consult_title), std::move(ctx));
    if (error) {
        answer.status = error->code == ErrorCode::busy ? 503 : 400;
    }
    return answer;
}

Answer get_consult_new(const Page& page) {
    std::string notice;
    if (const std::string saved = page.form.get("saved"); !saved.empty()) {
        notice = tr(page, msg::saved_consultation, {client::short_id(saved)});
    }
    return consult_form(page, notice, nullptr, false);
}

Answer post_consult(const Page& page) {
    client::ConsultationInput input;
    input.person.gender = page.form.get("gender");
    input.person.age = page.form.get("age");
    input.person.category = page.form.get("category");
    input.topics = page.form.all("topic");
    input.outcome = page.form.get("outcome");
    input.question = page.form.get("question");
    input.advice = page.form.get("advice");
    input.follow_up = page.form.has("follow_up");
    if (const std::string l = page.form.get("clang"); !l.empty()) {
        input.lang = l;
    }
    // An empty choice is the form's own case (the CLI has no empty option): named next to
    // its field before the engine sees the record.
    for (const auto& [name, word] : {std::pair{"gender", &client::msg::field_gender},
                                     std::pair{"age", &client::msg::field_age},
                                     std::pair{"category", &client::msg::field_category},
                                     std::pair{"outcome", &client::msg::field_outcome}}) {
        if (page.form.get(name).empty()) {
            const Error error = make_error(ErrorCode::invalid_input, msg::choose_value, *word);
            return consult_form(page, {}, &error, true);
        }
    }
    auto vulnerable = vulnerable_choice(page);
    if (!vulnerable) {
        return consult_form(page, {}, &vulnerable.error(), true);
    }
    input.person.vulnerable = *vulnerable;
    std::string id;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto added = engine.add_consultation(input);
        if (!added) {
            return tl::unexpected(added.error());
        }
        id = added->id;
        return {};
    });
    if (!done) {
        return consult_form(page, {}, &done.error(), true);
    }
    return redirect("/consult/new?saved=" + id);
}

// ---- the list -----------------------------------------------------------------------------

Answer get_consultations(const Page& page) {
    client::ConsultationFilter filter;
    if (const auto f = page.form.get("from"); !f.empty()) {
        filter.from = f;
    }
    if (const auto t = page.form.get("to"); !t.empty()) {
        filter.to = t;
    }
    const std::string q = page.form.get("q");
    const std::string topic = page.form.get("topic");
    const std::string outcome = page.form.get("outcome");
    filter.text = q;
    const std::string village = page.form.get("village");
    if (!village.empty()) {
        filter.village = village;
    }
    if (!topic.empty()) {
        filter.topic = topic;
    }
    if (!outcome.empty()) {
        filter.outcome = outcome;
    }
    filter.newest_first = true;
    mstch::array rows, villages;
    bool more = false;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        rows.clear();
        villages.clear();
        CARAVAN_TRY(known, engine.list_villages());
        for (const auto& v : known) {
            villages.push_back(mstch::map{{"id", v.id},
                                          {"label", v.name + " (" + v.region + ")"},
                                          {"chosen", v.id == village}});
        }
        return engine.list_consultations(filter, [&](const client::Consultation& c) {
            if (rows.size() == k_list_limit) {
                more = true;
                return false;
            }
            std::string topics;
            for (const auto& t : c.topics) {
                topics += (topics.empty() ? "" : ", ") +
                          std::string(client::enums::topic.label(t, page.lang));
            }
            rows.push_back(mstch::map{
                {"id", client::short_id(c.id)},
                {"full_id", c.id},
                {"date", c.date},
                {"village", c.village},
                {"person", std::string(client::enums::gender.label(c.person.gender, page.lang)) +
                               ", " + std::string(client::enums::age.label(c.person.age, page.lang))},
                {"topics", topics},
                {"outcome", std::string(client::enums::outcome.label(c.outcome, page.lang))}});
            return true;
        });
    });
    mstch::map ctx{
        {"rows", rows},
        {"empty", rows.empty()},
        {"error", done ? std::string{} : error_text(page, done.error())},
        {"more", more ? tr(page, msg::more_rows, {k_list_limit}) : std::string{}},
        {"q", q},
        {"from", page.form.get("from")},
        {"to", page.form.get("to")},
        {"search_label", tr(page, msg::search_label)},
        {"from_label", tr(page, msg::filter_from)},
        {"to_label", tr(page, msg::filter_to)},
        {"any", tr(page, msg::filter_any)},
        {"show", tr(page, msg::apply_filter)},
        {"topic_label", tr(page, client::msg::field_topic)},
        {"outcome_label", tr(page, client::msg::field_outcome)},
        {"villages", villages},
        {"village_label", tr(page, msg::col_village)},
        {"topics", options_of(client::enums::topic, page.lang, {topic})},
        {"outcomes", options_of(client::enums::outcome, page.lang, {outcome})},
        {"col_date", tr(page, msg::col_date)},
        {"col_village", tr(page, msg::col_village)},
        {"col_person", tr(page, msg::col_person)},
        {"col_topics", tr(page, msg::col_topics)},
        {"col_outcome", tr(page, msg::col_outcome)},
        {"nothing_found", tr(page, msg::nothing_found)},
    };
    return render_page(page, "consultations", tr(page, msg::consultations_title), std::move(ctx));
}

} // namespace

void add_home_routes(Routes& routes) {
    routes.get.emplace("/", get_home);
    routes.post.emplace("/setup", post_setup);
    routes.post.emplace("/visit/start", post_start_visit);
    routes.post.emplace("/visit/close", post_close_visit);
}

void add_consultation_routes(Routes& routes) {
    routes.get.emplace("/consult/new", get_consult_new);
    routes.get.emplace("/consultations", get_consultations);
    routes.post.emplace("/consult", post_consult);
}

} // namespace caravan::ui
