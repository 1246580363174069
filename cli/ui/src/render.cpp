// The frame every page shares, the translations, the engine behind its lock, the form fields.
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {

using nlohmann::json;

Result<void> EngineAccess::with(const std::function<Result<void>(client::Engine&)>& work) {
    return run(false, work);
}

Result<void> EngineAccess::create(const std::function<Result<void>(client::Engine&)>& work) {
    return run(true, work);
}

Result<void> EngineAccess::run(bool create,
                               const std::function<Result<void>(client::Engine&)>& work) {
    const std::lock_guard lock(m_mutex);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(m_busy_retry_ms);
    for (;;) {
        Result<void> result;
        if (!m_engine) {
            client::EngineOptions options;
            options.create = create;
            options.create_directories = create;
            options.busy_timeout_ms = std::min(m_busy_retry_ms, 5000);
            auto opened = client::Engine::open(m_path, options);
            if (opened) {
                m_engine = std::make_unique<client::Engine>(std::move(*opened));
            } else {
                result = tl::unexpected(opened.error());
            }
        }
        if (m_engine) {
            result = work(*m_engine);
        }
        if (result || result.error().code != ErrorCode::busy ||
            std::chrono::steady_clock::now() >= deadline) {
            return result;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
}

std::string tr(const Page& page, const Message& message, std::vector<MessageArg> args) {
    return web::translate(client::message_lang(page.lang), message, std::move(args));
}

std::string need_visit_notice(const Page& page) {
    // A database that cannot say (not set up, busy) counts as no visit: the notice shows.
    bool has_visit = false;
    (void)page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto v = engine.current_visit();
        has_visit = v && v->has_value();
        return {};
    });
    return has_visit ? std::string{} : tr(page, msg::need_visit_first);
}

std::string error_text(const Page& page, const Error& error) {
    if (error.code == ErrorCode::busy) {
        return tr(page, msg::database_busy, {page.engine.busy_retry_ms() / 1000});
    }
    return client::localize(error, page.lang);
}

mstch::array options_of(const client::Enumeration& e, client::Lang lang,
                        const std::vector<std::string>& chosen) {
    mstch::array out;
    for (const auto& v : e.values) {
        out.push_back(mstch::map{
            {"code", std::string(v.code)},
            {"label", std::string(v.label(lang))},
            {"chosen", std::find(chosen.begin(), chosen.end(), v.code) != chosen.end()}});
    }
    return out;
}

mstch::array vulnerable_options(const Page& page, const std::string& chosen) {
    mstch::array out;
    for (const auto& [code, word] : {std::pair{"", &msg::not_recorded_value},
                                     std::pair{"yes", &msg::yes_value},
                                     std::pair{"no", &msg::no_value}}) {
        out.push_back(mstch::map{{"code", std::string(code)},
                                 {"label", tr(page, *word)},
                                 {"chosen", chosen == code}});
    }
    return out;
}

std::string vulnerable_code(const std::optional<bool>& flag) {
    return !flag ? "" : *flag ? "yes" : "no";
}

Result<std::optional<bool>> vulnerable_choice(const Page& page) {
    const std::string value = page.form.get("vulnerable");
    if (value.empty()) {
        return std::nullopt;
    }
    if (value == "yes" || value == "no") {
        return value == "yes";
    }
    return fail(ErrorCode::invalid_input, msg::choose_value, client::msg::field_vulnerable);
}

std::string shown_value(const Page& page, const std::string& field, const json& value) {
    const auto label = [&](const client::Enumeration& e, const json& v) {
        return v.is_string() ? std::string(e.label(v.get<std::string>(), page.lang)) : v.dump();
    };
    if (value.is_null() && field == "vulnerable") {
        return tr(page, msg::not_recorded_value);
    }
    if (value.is_boolean()) {
        return tr(page, value.get<bool>() ? msg::yes_value : msg::no_value);
    }
    if (field == "gender") return label(client::enums::gender, value);
    if (field == "age") return label(client::enums::age, value);
    if (field == "category") return label(client::enums::category, value);
    if (field == "outcome") return label(client::enums::outcome, value);
    if (field == "lang") return label(client::enums::language, value);
    if (field == "topics") {
        // Stored as a JSON array, or as its text (the projection's column).
        json list = value;
        if (value.is_string()) {
            list = json::parse(value.get<std::string>(), nullptr, false);
        }
        if (!list.is_array()) {
            return value.is_string() ? value.get<std::string>() : value.dump();
        }
        std::string out;
        for (const auto& t : list) {
            out += (out.empty() ? "" : ", ") + label(client::enums::topic, t);
        }
        return out;
    }
    return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string field_name(const Page& page, const std::string& field) {
    const MessageArg word = client::msg::field(field == "topics" ? "topic" : field);
    return word.word ? tr(page, *word.word) : field;
}

Answer render_page(const Page& page, const std::string& name, const std::string& title,
                   mstch::map context) {
    const auto layout = asset("layout.mustache");
    const auto body = asset(name + ".mustache");
    const auto fields = asset("consult_fields.mustache");
    if (!layout || !body || !fields) {
        Answer missing;
        missing.status = 500;
        missing.body = "missing template";
        missing.content_type = "text/plain; charset=utf-8";
        return missing;
    }
    context.emplace("title", title);
    context.emplace("app_title", tr(page, msg::app_title));
    context.emplace("csrf", page.session.csrf);
    context.emplace("lang", std::string(client::to_string(page.lang)));
    context.emplace("nav_home", tr(page, msg::nav_home));
    context.emplace("nav_consultations", tr(page, msg::nav_consultations));
    context.emplace("nav_attendance", tr(page, msg::nav_attendance));
    context.emplace("nav_exports", tr(page, msg::nav_exports));
    context.emplace("nav_sync", tr(page, msg::nav_sync));
    context.emplace("nav_conflicts", tr(page, msg::nav_conflicts));
    context.emplace("nav_photos", tr(page, msg::nav_photos));
    context.emplace("new_consultation", tr(page, msg::consult_title));
    context.emplace("language_label", tr(page, msg::language_label));
    context.emplace("langs", web::language_links(page.lang, page.target));
    // The current visit on every screen (nothing when the database does not exist yet).
    std::string visit_line;
    (void)page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto visit = engine.current_visit();
        if (!visit) {
            return tl::unexpected(visit.error());
        }
        visit_line = *visit ? tr(page, msg::current_visit, {(*visit)->village, (*visit)->date})
                            : tr(page, msg::no_current_visit);
        return {};
    });
    context.emplace("visit_line", visit_line);
    Answer page_answer;
    page_answer.body =
        web::render(*layout, *body, context, {{"consult_fields", std::string(*fields)}});
    return page_answer;
}

} // namespace caravan::ui
