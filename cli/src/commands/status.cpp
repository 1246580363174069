#include "common.hpp"
#include "readable.hpp"
#include "caravan/client/iso_time.hpp"
#include "caravan/sync/agent/agent_state.hpp"

namespace caravan::cli {
namespace {

const bool status = register_command("status", [](CLI::App& app, Registry& registry) {
    auto* cmd = app.add_subcommand("status", "Counts, current visit and unsynced changes");
    cmd->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(st, engine.status());
            // Events the server refused (or this device could not apply), with the reason:
            // set aside so that they never block the rest of the queue.
            // Installing the agent's tables is a write; on a full disk a database that has
            // none has never synced, so nothing is quarantined and status still answers.
            std::vector<sync::agent::QuarantineEntry> quarantined;
            if (auto ok = sync::agent::AgentState::install(engine.component_storage()); !ok) {
                if (ok.error().code != ErrorCode::storage_full) {
                    return ok;
                }
            } else {
                CARAVAN_TRY(listed,
                            sync::agent::AgentState(engine.component_storage()).quarantined());
                quarantined = std::move(listed);
            }
            if (ctx.json) {
                nlohmann::json doc = client::to_json(st);
                doc["quarantined"] = nlohmann::json::array();
                for (const auto& q : quarantined) {
                    doc["quarantined"].push_back(sync::agent::to_json(q));
                }
                print_json(ctx, doc);
                return {};
            }
            auto line = [&](const Message& key, const std::string& value) {
                ctx.out << phrase(ctx, key) << ": " << shown(value) << "\n";
            };
            line(msg::word_device, st.device ? device_owner(*st.device) + " (" +
                                           client::short_id(st.device->id) + ")"
                                     : std::string(phrase(ctx, msg::word_not_initialised)));
            if (st.current_visit) {
                line(msg::word_current_visit, st.current_visit->village + ", " + st.current_visit->date +
                                          " (" + client::short_id(st.current_visit->id) + ")");
            } else {
                line(msg::word_current_visit, std::string(phrase(ctx, msg::word_none)));
            }
            line(msg::word_villages, std::to_string(st.villages));
            line(msg::word_visits, std::to_string(st.visits));
            line(msg::word_open_visits, std::to_string(st.open_visits));
            line(msg::word_consultations, std::to_string(st.consultations));
            line(msg::word_attendance_entries, std::to_string(st.attendance_entries));
            line(msg::word_participants, std::to_string(st.participants));
            line(msg::word_surveys, std::to_string(st.surveys));
            line(msg::word_photos, std::to_string(st.photos));
            line(msg::word_unsynced, std::to_string(st.unsynced));
            if (st.oldest_unsynced) {
                line(msg::word_oldest_unsynced, client::local_minute(*st.oldest_unsynced));
            }
            line(msg::word_conflicts, std::to_string(st.conflicts));
            line(msg::word_quarantined, std::to_string(quarantined.size()));
            for (const auto& q : quarantined) {
                const std::string id = client::short_id(q.entity_id);
                const std::string record = record_word(ctx, q.entity_type);
                // The code as the protocol names it; the server's own (English) words after it
                // in parentheses, as technical detail.
                ctx.out << "  "
                        << (q.direction == "push"
                                ? say(ctx, msg::quarantine_refused, {record, id, q.seq})
                                : say(ctx, msg::quarantine_not_applied,
                                      {record, id, q.seq, client::short_id(q.device_id)}))
                        << ": " << shown(q.code);
                if (!q.message.empty()) {
                    ctx.out << " (" << shown(q.message) << ")";
                }
                ctx.out << "\n";
            }
            return {};
        });
    });
});

// The fields an edit wrote, readable: "advice: …; outcome: …".
std::string edit_text(Context& ctx, const std::string& value) {
    const auto parsed = nlohmann::json::parse(value, nullptr, false);
    const nlohmann::json* fields = parsed.is_object() && parsed.contains("edited")
                                       ? &parsed["edited"]
                                       : nullptr;
    if (!fields || !fields->is_object()) {
        return shown(value);
    }
    std::string out;
    for (auto it = fields->begin(); it != fields->end(); ++it) {
        out += (out.empty() ? "" : "; ") + field_word(ctx, it.key()) + ": " +
               value_text(ctx, it.key(), it.value());
    }
    return out;
}

std::string stored_value(Context& ctx, const std::string& field, const std::string& value) {
    const auto parsed = nlohmann::json::parse(value, nullptr, false);
    return parsed.is_discarded() ? shown(value) : value_text(ctx, field, parsed);
}

void print_conflict(Context& ctx, const Lawyers& lawyers, const client::ConflictEntry& c) {
    const auto kept = c.kept(), lost = c.overwritten();
    const std::string record = record_word(ctx, c.entity_type) + " " + client::short_id(c.entity_id);
    if (c.delete_vs_edit()) {
        // The record stays deleted whichever came later: an edit never writes the mark. Say
        // so, and how to bring the record back.
        ctx.out << record << ": " << phrase(ctx, msg::word_deleted_while_edited) << "; "
                << phrase(ctx, msg::word_kept) << ": " << phrase(ctx, msg::word_the_deletion)
                << " (" << who_when(ctx, lawyers, kept.version) << "); "
                << phrase(ctx, msg::word_the_edit) << " " << edit_text(ctx, lost.value) << " ("
                << who_when(ctx, lawyers, lost.version) << ") ";
        if (!c.record_deleted) {
            ctx.out << phrase(ctx, msg::word_visible_again) << "\n";
        } else if (c.entity_type == "consultation") {
            ctx.out << phrase(ctx, msg::word_hidden_with_the_record) << "; "
                    << phrase(ctx, msg::word_to_bring_it_back) << ": caravan consult undelete "
                    << client::short_id(c.entity_id) << "\n";
        } else {
            ctx.out << phrase(ctx, msg::word_hidden_with_the_record) << "\n";
        }
        return;
    }
    ctx.out << record << ", " << field_word(ctx, c.field) << ": " << phrase(ctx, msg::word_kept)
            << " " << stored_value(ctx, c.field, kept.value) << " ("
            << who_when(ctx, lawyers, kept.version) << "); " << phrase(ctx, msg::word_overwritten)
            << " " << stored_value(ctx, c.field, lost.value) << " ("
            << who_when(ctx, lawyers, lost.version) << ")\n";
}

const bool conflicts = register_command("conflicts", [](CLI::App& app, Registry& registry) {
    auto* cmd = app.add_subcommand(
        "conflicts", "Concurrent edits of one field: the value kept and the value overwritten; "
                     "a delete against an edit it had not seen");
    cmd->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(list, engine.conflicts());
            if (ctx.json) {
                print_json_array(ctx, list);
                return {};
            }
            CARAVAN_TRY(lawyers, engine.lawyers());
            for (const auto& c : list) {
                print_conflict(ctx, lawyers, c);
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
