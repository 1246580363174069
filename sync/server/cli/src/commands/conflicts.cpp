// caravan-server conflicts: concurrent edits of one field seen by the server.

#include <memory>
#include <ostream>

#include <nlohmann/json.hpp>

#include "../app.hpp"
#include "caravan/client/text.hpp"

namespace caravan::sync::server {
namespace {

using nlohmann::json;

Result<void> list_conflicts(Context& ctx, bool as_json) {
    auto store = open_existing(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto list = (*store)->feed().conflicts();
    if (!list) {
        return tl::unexpected(list.error());
    }
    if (as_json) {
        json out = json::array();
        for (const auto& c : *list) {
            out.push_back(client::to_json(c));
        }
        ctx.out << out.dump(2) << "\n";
        return {};
    }
    for (const auto& c : *list) {
        const auto kept = c.kept(), lost = c.overwritten();
        const std::string record = client::escape_controls(c.entity_type + " " + c.entity_id);
        if (c.delete_vs_edit()) {
            ctx.out << record << ": deleted while edited on another device; kept: the deletion ("
                    << kept.version << "); the edit " << client::escape_controls(lost.value) << " ("
                    << lost.version << ") "
                    << (c.record_deleted ? "is hidden with the record"
                                         : "is visible again: the record was undeleted since")
                    << "\n";
            continue;
        }
        ctx.out << record << " " << client::escape_controls(c.field) << ": kept "
                << client::escape_controls(kept.value) << " (" << kept.version << "), overwritten "
                << client::escape_controls(lost.value) << " (" << lost.version << ")\n";
    }
    if (list->empty()) {
        ctx.err << "caravan-server: no conflicts\n";
    }
    return {};
}

const bool registered = register_command("conflicts", [](CLI::App& app, Registry& registry) {
    auto as_json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("conflicts", "Concurrent edits of one field seen by the server");
    registry.add_data(*cmd);
    registry.add_store(*cmd);
    cmd->add_flag("--json", *as_json, "Print one JSON document");
    cmd->callback([&registry, as_json] {
        registry.set([as_json](Context& ctx) { return list_conflicts(ctx, *as_json); });
    });
});

} // namespace
} // namespace caravan::sync::server
