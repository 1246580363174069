#include "common.hpp"
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
            auto line = [&](std::string_view key, const std::string& value) {
                ctx.out << phrase(ctx, key) << ": " << shown(value) << "\n";
            };
            line("device", st.device ? st.device->lawyer + ", " + st.device->region + " (" +
                                           client::short_id(st.device->id) + ")"
                                     : std::string(phrase(ctx, "not initialised")));
            if (st.current_visit) {
                line("current visit", st.current_visit->village + ", " + st.current_visit->date +
                                          " (" + client::short_id(st.current_visit->id) + ")");
            } else {
                line("current visit", std::string(phrase(ctx, "none")));
            }
            line("villages", std::to_string(st.villages));
            line("visits", std::to_string(st.visits));
            line("open visits", std::to_string(st.open_visits));
            line("consultations", std::to_string(st.consultations));
            line("attendance entries", std::to_string(st.attendance_entries));
            line("participants", std::to_string(st.participants));
            line("surveys", std::to_string(st.surveys));
            line("photos", std::to_string(st.photos));
            line("unsynced", std::to_string(st.unsynced));
            if (st.oldest_unsynced) {
                line("oldest unsynced", *st.oldest_unsynced);
            }
            line("conflicts", std::to_string(st.conflicts));
            line("quarantined", std::to_string(quarantined.size()));
            for (const auto& q : quarantined) {
                ctx.out << "  " << (q.direction == "push" ? "refused by the server: "
                                                          : "could not apply: ")
                        << q.entity_type << " " << client::short_id(q.entity_id) << " (event "
                        << q.seq << (q.direction == "push" ? "" : " of device " +
                                                                      client::short_id(q.device_id))
                        << "): " << shown(q.code) << ", " << shown(q.message) << "\n";
            }
            return {};
        });
    });
});

const bool conflicts = register_command("conflicts", [](CLI::App& app, Registry& registry) {
    auto* cmd = app.add_subcommand(
        "conflicts", "Concurrent edits of one field: the value kept and the value overwritten; "
                     "a delete against an edit it had not seen");
    cmd->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(list, engine.conflicts());
            if (ctx.json) {
                nlohmann::json out = nlohmann::json::array();
                for (const auto& c : list) {
                    out.push_back(client::to_json(c));
                }
                print_json(ctx, out);
                return {};
            }
            for (const auto& c : list) {
                const auto kept = c.kept(), lost = c.overwritten();
                const std::string record =
                    shown(c.entity_type) + " " + client::short_id(c.entity_id);
                if (c.delete_vs_edit()) {
                    // The record stays deleted whichever came later: an edit never writes the
                    // mark. Say so, and how to bring the record back.
                    ctx.out << record << ": " << phrase(ctx, "deleted while edited") << "; "
                            << phrase(ctx, "kept") << ": " << phrase(ctx, "the deletion") << " ("
                            << kept.version << "); " << phrase(ctx, "the edit") << " "
                            << shown(lost.value) << " (" << lost.version << ") ";
                    if (!c.record_deleted) {
                        ctx.out << phrase(ctx, "visible again") << "\n";
                    } else if (c.entity_type == "consultation") {
                        ctx.out << phrase(ctx, "hidden with the record") << "; "
                                << phrase(ctx, "to bring it back") << ": caravan consult undelete "
                                << client::short_id(c.entity_id) << "\n";
                    } else {
                        ctx.out << phrase(ctx, "hidden with the record") << "\n";
                    }
                    continue;
                }
                ctx.out << record << " " << shown(c.field) << ": " << phrase(ctx, "kept") << " "
                        << shown(kept.value) << " (" << kept.version << "), "
                        << phrase(ctx, "overwritten") << " " << shown(lost.value) << " ("
                        << lost.version << ")\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
