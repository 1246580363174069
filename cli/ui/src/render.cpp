// The frame every page shares, the translations, the engine behind its lock, the form fields.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/iso_time.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {

using nlohmann::json;

std::string Form::get(const std::string& name) const {
    const auto it = fields.find(name);
    return it == fields.end() ? std::string{} : it->second;
}

bool Form::has(const std::string& name) const {
    return fields.contains(name);
}

std::vector<std::string> Form::all(const std::string& name) const {
    std::vector<std::string> out;
    const auto [from, to] = fields.equal_range(name);
    for (auto it = from; it != to; ++it) {
        out.push_back(it->second);
    }
    return out;
}

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
    return caravan::render(message.text(client::message_lang(page.lang)), args,
                           client::message_lang(page.lang));
}

std::string url_encode(std::string_view text) {
    static constexpr char k_hex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : text) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += k_hex[c >> 4];
            out += k_hex[c & 15];
        }
    }
    return out;
}

std::string field_of(const Error& error) {
    for (const auto& arg : error.args) {
        if (arg.word && arg.word->id.starts_with("client.field_")) {
            return std::string(arg.word->id.substr(13));
        }
        if (arg.cause) {
            if (auto f = field_of(*arg.cause); !f.empty()) {
                return f;
            }
        }
    }
    return {};
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

std::string local_time(const std::string& iso_utc) {
    std::tm tm{};
    if (std::sscanf(iso_utc.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) < 6) {
        return iso_utc;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    // The model's formatter, cut to the minute and with a space: "2024-05-14 15:31".
    std::string text = client::iso_8601(client::local_time(timegm(&tm))).substr(0, 16);
    text[10] = ' ';
    return text;
}

std::string shown_value(const Page& page, const std::string& field, const json& value) {
    const auto label = [&](const client::Enumeration& e, const json& v) {
        return v.is_string() ? std::string(e.label(v.get<std::string>(), page.lang)) : v.dump();
    };
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

Answer redirect(std::string location) {
    Answer a;
    a.location = std::move(location);
    return a;
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
    mstch::array langs;
    for (auto l : {client::Lang::kk, client::Lang::ru, client::Lang::en}) {
        const std::string code(client::to_string(l));
        langs.push_back(mstch::map{{"code", code},
                                   {"name", std::string(l == client::Lang::kk   ? "Қазақша"
                                                        : l == client::Lang::ru ? "Русский"
                                                                                : "English")},
                                   {"current", l == page.lang},
                                   {"back", url_encode(page.target)}});
    }
    context.emplace("langs", langs);
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
    page_answer.body = mstch::render(std::string(*layout), context,
                                     {{"content", std::string(*body)},
                                      {"consult_fields", std::string(*fields)}});
    return page_answer;
}

} // namespace caravan::ui
