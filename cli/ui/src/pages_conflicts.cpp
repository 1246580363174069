// Conflicts, readable: for each field two people changed without seeing each other's change, the
// value kept and the value overwritten, each with the lawyer's name and the local time; keeping
// the other value is an ordinary correction (an edit event every device pulls).
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/authorship.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

using nlohmann::json;

// The consultation fields a correction can write (ConsultationPatch).
bool editable(const client::ConflictEntry& c) {
    static const char* const k_fields[] = {"gender", "age",      "category", "vulnerable",
                                           "topics", "outcome",  "question", "advice",
                                           "follow_up", "lang"};
    if (c.entity_type != "consultation" || c.delete_vs_edit()) {
        return false;
    }
    for (const char* f : k_fields) {
        if (c.field == f) {
            return true;
        }
    }
    return false;
}

std::string who_when(const Page& page, const std::map<std::string, std::string>& lawyers,
                     const std::string& version) {
    const auto a = client::authorship(version);
    if (!a) {
        return version;
    }
    const auto it = lawyers.find(a->device_id);
    const std::string who = it != lawyers.end() && !it->second.empty()
                                ? it->second
                                : tr(page, msg::unknown_device, {client::short_id(a->device_id)});
    return tr(page, msg::conflict_by, {who, local_time(a->time_utc)});
}

Answer conflicts_page(const Page& page, const std::string& notice, const std::string& error) {
    mstch::array rows;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        CARAVAN_TRY(list, engine.conflicts());
        CARAVAN_TRY(lawyers, engine.lawyers());
        for (const auto& c : list) {
            const auto kept = c.kept();
            const auto lost = c.overwritten();
            const json kept_value = json::parse(kept.value, nullptr, false);
            const json lost_value = json::parse(lost.value, nullptr, false);
            std::string kept_text, lost_text;
            if (c.delete_vs_edit()) {
                kept_text = tr(page, msg::conflict_deleted_kept);
                if (!c.record_deleted) {
                    kept_text += " — " + tr(page, msg::conflict_restored_since);
                }
                lost_text = tr(page, msg::conflict_edit_hidden);
            } else {
                kept_text = shown_value(page, c.field, kept_value);
                lost_text = shown_value(page, c.field, lost_value);
            }
            rows.push_back(mstch::map{
                {"record", tr(page, msg::conflict_record,
                              {field_name(page, c.entity_type), client::short_id(c.entity_id)})},
                {"is_consultation", c.entity_type == "consultation"},
                {"entity_id", c.entity_id},
                {"field", c.delete_vs_edit() ? std::string{} : field_name(page, c.field)},
                {"field_code", c.field},
                {"kept", kept_text},
                {"kept_by", who_when(page, lawyers, kept.version)},
                {"lost", lost_text},
                {"lost_by", who_when(page, lawyers, lost.version)},
                {"lost_json", lost_value.is_discarded() ? lost.value : lost_value.dump()},
                {"editable", editable(c)}});
        }
        return {};
    });
    mstch::map ctx{{"notice", notice},
                   {"error", done ? error : error_text(page, done.error())},
                   {"intro", tr(page, msg::conflicts_intro)},
                   {"none", tr(page, msg::conflicts_none)},
                   {"empty", rows.empty()},
                   {"rows", rows},
                   {"kept_label", tr(page, msg::conflict_kept)},
                   {"lost_label", tr(page, msg::conflict_overwritten)},
                   {"keep_this", tr(page, msg::keep_this)}};
    Answer answer = render_page(page, "conflicts", tr(page, msg::conflicts_title), std::move(ctx));
    if (!error.empty()) {
        answer.status = 400;
    }
    return answer;
}

Answer get_conflicts(const Page& page) {
    return conflicts_page(page, page.form.has("kept") ? tr(page, msg::kept_value_saved) : "", {});
}

// Keeps the overwritten value of one consultation field: an ordinary edit writing that value.
Answer post_keep(const Page& page) {
    const std::string id = page.form.get("id");
    const std::string field = page.form.get("field");
    const json value = json::parse(page.form.get("value"), nullptr, false);
    client::ConsultationPatch patch;
    const auto text = [&]() -> std::optional<std::string> {
        return value.is_string() ? std::optional(value.get<std::string>()) : std::nullopt;
    };
    if (field == "gender") patch.gender = text();
    else if (field == "age") patch.age = text();
    else if (field == "category") patch.category = text();
    else if (field == "outcome") patch.outcome = text();
    else if (field == "question") patch.question = text();
    else if (field == "advice") patch.advice = text();
    else if (field == "lang") patch.lang = text();
    else if (field == "vulnerable" && value.is_boolean()) patch.vulnerable = value.get<bool>();
    else if (field == "vulnerable" && value.is_null()) patch.vulnerable.emplace(); // not recorded
    else if (field == "follow_up" && value.is_boolean()) patch.follow_up = value.get<bool>();
    else if (field == "topics") {
        json list = value.is_string() ? json::parse(value.get<std::string>(), nullptr, false) : value;
        if (list.is_array()) {
            std::vector<std::string> topics;
            for (const auto& t : list) {
                if (t.is_string()) {
                    topics.push_back(t.get<std::string>());
                }
            }
            patch.topics = topics;
        }
    }
    if (patch.empty()) {
        return conflicts_page(page, {}, tr(page, msg::page_not_found));
    }
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        CARAVAN_TRY(edited, engine.edit_consultation(id, patch));
        (void)edited;
        return {};
    });
    if (!done) {
        return conflicts_page(page, {}, error_text(page, done.error()));
    }
    return redirect("/conflicts?kept=1");
}

} // namespace

void add_conflict_routes(Routes& routes) {
    routes.get.emplace("/conflicts", get_conflicts);
    routes.post.emplace("/conflicts/keep", post_keep);
}

} // namespace caravan::ui
