// caravan-server devices [revoke DEVICE]: the enrolled devices and their last sync; cuts one off.

#include <memory>
#include <ostream>

#include <nlohmann/json.hpp>

#include "../app.hpp"
#include "caravan/client/ids.hpp"

namespace caravan::sync::server {
namespace {

using nlohmann::json;

json device_json(const DeviceRecord& d) {
    return {{"device_id", d.device_id},
            {"short_id", client::short_id(d.device_id)},
            {"lawyer", d.lawyer},
            {"role", to_string(d.role)},
            {"regions", d.regions},
            {"enrolled_at", iso_utc(d.enrolled_at_ms)},
            {"last_sync", d.last_sync_ms ? json(iso_utc(*d.last_sync_ms)) : json(nullptr)},
            {"acked_seq", d.acked_seq},
            {"queue_depth", d.queue_depth ? json(*d.queue_depth) : json(nullptr)},
            {"oldest_unsynced", d.oldest_unsynced ? json(*d.oldest_unsynced) : json(nullptr)},
            {"app_version", d.app_version ? json(*d.app_version) : json(nullptr)},
            {"revoked", d.revoked()},
            {"revoked_at", d.revoked_at_ms ? json(iso_utc(*d.revoked_at_ms)) : json(nullptr)},
            {"successor", d.successor ? json(*d.successor) : json(nullptr)},
            {"predecessor", d.predecessor ? json(*d.predecessor) : json(nullptr)},
            {"rotated_at", d.rotated_at_ms ? json(iso_utc(*d.rotated_at_ms)) : json(nullptr)}};
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string s;
    for (const auto& item : items) {
        s += (s.empty() ? "" : std::string(sep)) + item;
    }
    return s;
}

Result<void> list_devices(Context& ctx, bool as_json) {
    auto store = open_existing(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto devices = (*store)->registry().devices();
    if (!devices) {
        return tl::unexpected(devices.error());
    }
    if (as_json) {
        json list = json::array();
        for (const auto& d : *devices) {
            list.push_back(device_json(d));
        }
        ctx.out << list.dump(2) << "\n";
        return {};
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : *devices) {
        rows.push_back({d.device_id, d.lawyer, std::string(to_string(d.role)),
                        d.regions.empty() ? "(all)" : join(d.regions, ", "),
                        iso_utc(d.enrolled_at_ms), optional_time(d.last_sync_ms),
                        std::to_string(d.acked_seq),
                        d.queue_depth ? std::to_string(*d.queue_depth) : "-",
                        d.oldest_unsynced.value_or("-"), d.app_version.value_or("-"),
                        d.revoked() ? "revoked " + optional_time(d.revoked_at_ms) : "no",
                        d.successor     ? "→ " + client::short_id(*d.successor)
                        : d.predecessor ? "← " + client::short_id(*d.predecessor)
                                        : "-"});
    }
    print_table(ctx.out,
                {"device", "lawyer", "role", "regions", "enrolled", "last sync", "acked", "queue",
                 "oldest unsynced", "app", "revoked", "rotation"},
                rows);
    return {};
}

Result<void> revoke_device(Context& ctx, const std::string& ref) {
    auto store = open_existing(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    // The server's own device writes the dashboard's "keep this value" choices: revoking it
    // would make every choice fail (docs/dashboard.md). Refused by full id or short form.
    CARAVAN_TRY(own, (*store)->server_device(""));
    if (!own.empty() && ref.size() >= 4 && own.ends_with(ref)) {
        return fail(ErrorCode::forbidden,
                    "this is the server's own device (the dashboard writes coordinators' choices "
                    "with it); it cannot be revoked");
    }
    auto device = (*store)->registry().revoke(ref);
    if (!device) {
        return tl::unexpected(device.error());
    }
    ctx.out << "revoked " << device->device_id << " at " << optional_time(device->revoked_at_ms)
            << "\n";
    return {};
}

struct Options {
    bool as_json = false;
    std::string device_ref;
};

const bool registered = register_command("devices", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<Options>();
    auto* devices_cmd = app.add_subcommand("devices", "List enrolled devices and their last sync");
    devices_cmd->add_option("--data", registry.data(), "Server data directory (holds server.db)");
    registry.add_store(*devices_cmd);
    devices_cmd->add_flag("--json", o->as_json, "Print one JSON document");
    devices_cmd->require_subcommand(0, 1);
    auto* revoke_cmd = devices_cmd->add_subcommand("revoke", "Cut a device off at once");
    revoke_cmd->add_option("DEVICE", o->device_ref, "Device id or its short form (last 8)")
        ->required();
    revoke_cmd->add_option("--data", registry.data(), "Server data directory (holds server.db)");
    registry.add_store(*revoke_cmd);
    devices_cmd->callback([&registry, o, revoke_cmd] {
        if (registry.data().empty()) {
            throw CLI::RequiredError("--data");
        }
        if (revoke_cmd->parsed()) {
            registry.set([o](Context& ctx) { return revoke_device(ctx, o->device_ref); });
        } else {
            registry.set([o](Context& ctx) { return list_devices(ctx, o->as_json); });
        }
    });
});

} // namespace
} // namespace caravan::sync::server
