// One consultation: its fields, a form to correct it, delete and restore, and its history with
// who changed what and when (lawyers' names and local times, not clock values and device ids).
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

using nlohmann::json;

mstch::array history_rows(const Page& page, const std::vector<client::HistoryEntry>& entries) {
    mstch::array rows;
    for (const auto& h : entries) {
        const json fields = json::parse(h.fields_json, nullptr, false);
        const bool restores = h.op == "update" && fields.is_object() && fields.contains("deleted") &&
                              fields["deleted"] == false;
        const Message& what = h.op == "create"   ? msg::history_created
                              : h.op == "delete" ? msg::history_deleted
                              : restores         ? msg::history_restored
                                                 : msg::history_updated;
        mstch::array changes;
        if (fields.is_object() && h.op != "delete") {
            for (auto it = fields.begin(); it != fields.end(); ++it) {
                if (it.key() == "deleted" || it.key() == "visit_id" || it.key() == "lawyer") {
                    continue;
                }
                const bool superseded = std::find(h.superseded.begin(), h.superseded.end(),
                                                  it.key()) != h.superseded.end();
                changes.push_back(mstch::map{{"field", field_name(page, it.key())},
                                             {"value", shown_value(page, it.key(), it.value())},
                                             {"superseded", superseded}});
            }
        }
        rows.push_back(mstch::map{
            {"when", local_time(h.time)},
            {"who", h.lawyer.empty() ? tr(page, msg::unknown_device, {client::short_id(h.device_id)})
                                     : h.lawyer},
            {"what", tr(page, what)},
            {"any_changes", !changes.empty()},
            {"changes", changes}});
    }
    return rows;
}

Answer record_page(const Page& page, const std::string& id, const std::string& notice,
                   const Error* error) {
    client::Consultation c;
    std::vector<client::HistoryEntry> history;
    bool deleted = false;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto found = engine.find_consultation(id);
        if (!found) {
            if (found.error().code != ErrorCode::not_found) {
                return tl::unexpected(found.error());
            }
            deleted = true;
        } else {
            c = *found;
        }
        auto h = engine.consultation_history(deleted ? id : c.id);
        if (!h) {
            return tl::unexpected(h.error());
        }
        history = std::move(*h);
        return {};
    });
    if (!done) {
        Answer answer = render_page(page, "message", tr(page, msg::page_not_found),
                                    {{"text", error_text(page, done.error())}});
        answer.status = done.error().code == ErrorCode::busy ? 503 : 404;
        return answer;
    }
    const std::string error_field = error ? field_of(*error) : std::string{};
    const auto keep = [&](const char* name, const std::string& stored) {
        return error ? page.form.get(name) : stored;
    };
    const std::vector<std::string> topics = error ? page.form.all("topic") : c.topics;
    const auto field = [&](const char* name, const Message& word, mstch::map extra) {
        extra.emplace("name", std::string(name));
        extra.emplace("label", tr(page, word));
        extra.emplace("error", error_field == name ? error_text(page, *error) : std::string{});
        return extra;
    };
    mstch::map ctx{
        {"id", deleted ? id : c.id},
        {"deleted", deleted},
        {"deleted_notice", tr(page, msg::deleted_notice, {client::short_id(id)})},
        {"undelete", tr(page, msg::undelete_record)},
        {"notice", notice},
        {"error", error && error_field.empty() ? error_text(page, *error) : std::string{}},
        {"fix_fields", error && !error_field.empty() ? tr(page, msg::fix_fields) : std::string{}},
        {"summary", deleted ? std::string{} : c.date + ", " + c.village + ", " + c.lawyer},
        {"edit_title", tr(page, msg::edit_title)},
        {"person_legend", tr(page, msg::person_legend)},
        {"gender", field("gender", client::msg::field_gender,
                         {{"options", options_of(client::enums::gender, page.lang,
                                                 {keep("gender", c.person.gender)})}})},
        {"age", field("age", client::msg::field_age,
                      {{"options", options_of(client::enums::age, page.lang,
                                              {keep("age", c.person.age)})}})},
        {"category", field("category", client::msg::field_category,
                           {{"options", options_of(client::enums::category, page.lang,
                                                   {keep("category", c.person.category)})}})},
        {"topic", field("topic", client::msg::field_topic,
                        {{"options", options_of(client::enums::topic, page.lang, topics)}})},
        {"outcome", field("outcome", client::msg::field_outcome,
                          {{"options", options_of(client::enums::outcome, page.lang,
                                                  {keep("outcome", c.outcome)})}})},
        {"clang", field("lang", client::msg::field_lang,
                        {{"options", options_of(client::enums::language, page.lang,
                                                {keep("clang", c.lang.value_or(""))})}})},
        {"question", field("question", client::msg::field_question,
                           {{"value", keep("question", c.question)}})},
        {"advice", field("advice", client::msg::field_advice,
                         {{"value", keep("advice", c.advice)}})},
        {"vulnerable_label", tr(page, msg::vulnerable_label)},
        {"vulnerable", vulnerable_options(page, error ? page.form.get("vulnerable")
                                                      : vulnerable_code(c.person.vulnerable))},
        {"vulnerable_error", error_field == "vulnerable" ? error_text(page, *error) : std::string{}},
        {"follow_up_label", tr(page, msg::follow_up_label)},
        {"follow_up", error ? page.form.has("follow_up") : c.follow_up},
        {"lang_label", tr(page, msg::consult_lang_label)},
        {"save", tr(page, msg::save_changes)},
        {"delete", tr(page, msg::delete_record)},
        {"delete_confirm", tr(page, msg::delete_confirm)},
        {"history_title", tr(page, msg::history_title)},
        {"col_when", tr(page, msg::history_when)},
        {"col_who", tr(page, msg::history_who)},
        {"col_what", tr(page, msg::history_what)},
        {"superseded_label", tr(page, msg::history_superseded)},
        {"history", history_rows(page, history)},
    };
    Answer answer = render_page(page, "record",
                                tr(page, msg::record_title, {client::short_id(deleted ? id : c.id)}),
                                std::move(ctx));
    if (error) {
        answer.status = error->code == ErrorCode::busy ? 503 : 400;
    }
    return answer;
}

Answer get_record(const Page& page) {
    std::string notice;
    if (page.form.has("saved")) {
        notice = tr(page, msg::saved_changes);
    } else if (page.form.has("same")) {
        notice = tr(page, msg::nothing_changed);
    } else if (page.form.has("restored")) {
        notice = tr(page, msg::restored_notice);
    }
    return record_page(page, page.form.get("id"), notice, nullptr);
}

Answer post_edit(const Page& page) {
    const std::string id = page.form.get("id");
    bool changed = false;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto current = engine.find_consultation(id);
        if (!current) {
            return tl::unexpected(current.error());
        }
        // Only what differs is written: an unchanged field makes no event and no conflict.
        client::ConsultationPatch patch;
        const auto differ = [&](std::optional<std::string>& slot, const char* name,
                                const std::string& stored) {
            if (page.form.get(name) != stored) {
                slot = page.form.get(name);
            }
        };
        differ(patch.gender, "gender", current->person.gender);
        differ(patch.age, "age", current->person.age);
        differ(patch.category, "category", current->person.category);
        differ(patch.outcome, "outcome", current->outcome);
        differ(patch.question, "question", current->question);
        differ(patch.advice, "advice", current->advice);
        differ(patch.lang, "clang", current->lang.value_or(""));
        auto topics = page.form.all("topic");
        auto stored_topics = current->topics;
        std::sort(topics.begin(), topics.end());
        std::sort(stored_topics.begin(), stored_topics.end());
        if (topics != stored_topics) {
            patch.topics = page.form.all("topic");
        }
        auto vulnerable = vulnerable_choice(page);
        if (!vulnerable) {
            return tl::unexpected(vulnerable.error());
        }
        if (*vulnerable != current->person.vulnerable) {
            patch.vulnerable = *vulnerable;
        }
        if (page.form.has("follow_up") != current->follow_up) {
            patch.follow_up = page.form.has("follow_up");
        }
        if (patch.empty()) {
            return {};
        }
        auto edited = engine.edit_consultation(current->id, patch);
        if (!edited) {
            return tl::unexpected(edited.error());
        }
        changed = true;
        return {};
    });
    if (!done) {
        return record_page(page, id, {}, &done.error());
    }
    return redirect("/consultation?id=" + url_encode(id) + (changed ? "&saved=1" : "&same=1"));
}

Answer post_delete(const Page& page) {
    const std::string id = page.form.get("id");
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto removed = engine.remove_consultation(id);
        if (!removed) {
            return tl::unexpected(removed.error());
        }
        return {};
    });
    if (!done) {
        return record_page(page, id, {}, &done.error());
    }
    return redirect("/consultation?id=" + url_encode(id));
}

Answer post_undelete(const Page& page) {
    const std::string id = page.form.get("id");
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        auto restored = engine.undelete_consultation(id);
        if (!restored) {
            return tl::unexpected(restored.error());
        }
        return {};
    });
    if (!done) {
        return record_page(page, id, {}, &done.error());
    }
    return redirect("/consultation?id=" + url_encode(id) + "&restored=1");
}

} // namespace

void add_record_routes(Routes& routes) {
    routes.get.emplace("/consultation", get_record);
    routes.post.emplace("/consultation/edit", post_edit);
    routes.post.emplace("/consultation/delete", post_delete);
    routes.post.emplace("/consultation/undelete", post_undelete);
}

} // namespace caravan::ui
