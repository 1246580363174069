// Devices and sync health: every device the account sees with its last sync and that sync's
// age (highlighted past the account's threshold), what it has not yet sent (as it reported on
// its last request), its app version and state; enrollment codes and revocation (coordinators).

#include <algorithm>

#include "app.hpp"
#include "caravan/client/domain.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"
#include "caravan/sync/server/device_registry.hpp"
#include "server_device.hpp"

namespace caravan::dashboard {
namespace {

using sync::server::DeviceRecord;
using sync::server::Store;

bool visible(const Page& page, const DeviceRecord& d) {
    if (page.account.regions.empty()) {
        return true;
    }
    return std::any_of(d.regions.begin(), d.regions.end(),
                       [&](const std::string& r) { return page.account.sees(r); });
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& item : items) {
        out += (out.empty() ? "" : ", ") + item;
    }
    return out;
}

std::string shown_time(std::int64_t ms) {
    return web::local_time(sync::server::iso_utc(ms));
}

std::string age_text(const Page& page, std::int64_t age_ms) {
    const std::int64_t minutes = std::max<std::int64_t>(0, age_ms / 60000);
    if (minutes < 120) {
        return tr(page, msg::age_minutes, {minutes});
    }
    if (minutes < 48 * 60) {
        return tr(page, msg::age_hours, {minutes / 60});
    }
    return tr(page, msg::age_days, {minutes / (24 * 60)});
}

// The devices an account sees, and which of them is the server's own (server_device.hpp: it
// writes the coordinators' choices; never stale, never revoked from here). "" when none yet.
struct VisibleDevices {
    std::vector<DeviceRecord> devices;
    std::string server_id;
};

mstch::map device_row(const Page& page, const DeviceRecord& d, std::int64_t now, bool server) {
    const std::int64_t stale_ms = static_cast<std::int64_t>(page.account.stale_hours) * 3600000;
    const bool retired = d.revoked() || d.rotated();
    const bool stale =
        !retired && !server && (!d.last_sync_ms || now - *d.last_sync_ms > stale_ms);
    std::string backlog = tr(page, msg::unknown_value);
    if (d.queue_depth) {
        backlog = *d.queue_depth == 0
                      ? tr(page, msg::backlog_none)
                      : tr(page, msg::backlog_value,
                           {*d.queue_depth, web::local_time(d.oldest_unsynced.value_or("-"))});
    }
    return mstch::map{
        {"device_id", d.device_id},
        {"short_id", client::short_id(d.device_id)},
        {"lawyer", d.lawyer},
        {"regions", d.regions.empty() ? tr(page, msg::all_regions) : joined(d.regions)},
        {"last_sync", d.last_sync_ms ? shown_time(*d.last_sync_ms) : tr(page, msg::never_synced)},
        {"age", d.last_sync_ms ? age_text(page, now - *d.last_sync_ms) : std::string("—")},
        {"stale", stale},
        {"backlog", backlog},
        {"app", d.app_version.value_or(tr(page, msg::unknown_value))},
        {"state", d.revoked()   ? tr(page, msg::state_revoked, {shown_time(*d.revoked_at_ms)})
                  : d.rotated() ? tr(page, msg::state_rotated, {client::short_id(*d.successor)})
                                : tr(page, msg::state_active)},
        {"retired", retired},
        {"can_revoke", page.coordinator() && !retired && !server},
        {"revoke_button", tr(page, msg::revoke_button)},
    };
}

Result<VisibleDevices> visible_devices(const Page& page) {
    VisibleDevices shown;
    auto read = page.services.with_store(false, [&](Store& store) -> Result<void> {
        CARAVAN_TRY(server_id, server_device_id(store));
        shown.server_id = std::move(server_id);
        auto all = store.registry().devices();
        if (!all) {
            return tl::unexpected(all.error());
        }
        for (auto& d : *all) {
            if (visible(page, d)) {
                shown.devices.push_back(std::move(d));
            }
        }
        return {};
    });
    if (!read) {
        return tl::unexpected(read.error());
    }
    return shown;
}

// The devices page; `extra` adds a notice, an error or a code just issued.
web::Answer devices_page(const Page& page, mstch::map extra, int status = 200) {
    auto devices = visible_devices(page);
    if (!devices) {
        page.services.log("dashboard error=devices code=" +
                          std::string(to_string(devices.error().code)));
        return message_page(page, msg::server_error, 503);
    }
    const std::int64_t now = page.services.now();
    mstch::array rows;
    for (const auto& d : devices->devices) {
        rows.push_back(device_row(page, d, now, d.device_id == devices->server_id));
    }
    mstch::array regions;
    for (const auto& r : page.account.regions) {
        regions.push_back(mstch::map{{"name", r}});
    }
    mstch::map context{
        {"devices", rows},
        {"has_devices", !rows.empty()},
        {"no_devices", tr(page, msg::no_devices)},
        {"col_lawyer", tr(page, msg::col_lawyer)},
        {"col_regions", tr(page, msg::col_regions)},
        {"col_device", tr(page, msg::col_device)},
        {"col_last_sync", tr(page, msg::col_last_sync)},
        {"col_age", tr(page, msg::col_age)},
        {"col_backlog", tr(page, msg::col_backlog)},
        {"col_app", tr(page, msg::col_app)},
        {"col_state", tr(page, msg::col_state)},
        {"stale_note", tr(page, msg::stale_note, {page.account.stale_hours})},
        {"stale_label", tr(page, msg::stale_label)},
        {"stale_hours", std::to_string(page.account.stale_hours)},
        {"stale_button", tr(page, msg::stale_button)},
        {"coordinator", page.coordinator()},
        {"code_title", tr(page, msg::code_title)},
        {"code_lawyer", tr(page, msg::code_lawyer)},
        {"code_region", tr(page, msg::code_region)},
        {"code_ttl", tr(page, msg::code_ttl)},
        {"code_button", tr(page, msg::code_button)},
        {"scoped", !page.account.regions.empty()},
        {"regions", regions},
        {"lawyer_value", page.form.get("lawyer")},
        {"region_value", page.form.get("region")},
        {"ttl_value", page.form.has("ttl") ? page.form.get("ttl") : std::string("72")},
    };
    if (page.form.has("revoked")) {
        context.emplace("notice", tr(page, msg::revoke_done, {page.form.get("revoked")}));
    }
    for (auto& [k, v] : extra) {
        context[k] = v;
    }
    return render_page(page, "devices", tr(page, msg::devices_title), std::move(context), status);
}

std::optional<int> whole_number(const std::string& text, int low, int high) {
    if (text.empty() || text.size() > 6 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return std::nullopt;
    }
    const int n = std::stoi(text);
    if (n < low || n > high) {
        return std::nullopt;
    }
    return n;
}

web::Answer coordinators_only(const Page& page) {
    return message_page(page, msg::coordinators_only, 403);
}

web::Answer post_threshold(const Page& page) {
    const auto hours = whole_number(page.form.get("hours"), 1, 24 * 365);
    if (!hours) {
        return devices_page(page, {{"error", tr(page, msg::stale_invalid)}}, 400);
    }
    auto saved = page.services.with_store(true, [&](Store& store) {
        return page.services.accounts(store).set_stale_hours(page.account.name, *hours);
    });
    if (!saved) {
        return message_page(page, msg::server_error, 503);
    }
    page.services.audit(page.account.name, "threshold_set", std::to_string(*hours) + " h");
    return web::redirect("/devices");
}

web::Answer post_code(const Page& page) {
    if (!page.coordinator()) {
        return coordinators_only(page);
    }
    const auto error = [&](std::string text) {
        return devices_page(page, {{"error", std::move(text)}}, 400);
    };
    const auto ttl = whole_number(page.form.get("ttl"), 1, 720);
    if (!ttl) {
        return error(tr(page, msg::code_ttl_invalid));
    }
    auto lawyer =
        client::validate_text("lawyer", page.form.get("lawyer"), client::k_max_name_chars);
    if (!lawyer) {
        return error(client::localize(lawyer.error(), page.lang));
    }
    auto region =
        client::validate_text("region", page.form.get("region"), client::k_max_name_chars);
    if (!region) {
        return error(client::localize(region.error(), page.lang));
    }
    if (!page.account.sees(*region)) {
        return error(tr(page, msg::code_region_outside));
    }
    sync::server::CodeRequest request;
    request.lawyer = *lawyer;
    request.regions = {*region};
    request.ttl_hours = *ttl;
    std::string code;
    auto issued = page.services.with_store(true, [&](Store& store) -> Result<void> {
        auto c = store.registry().create_code(request);
        if (!c) {
            return tl::unexpected(c.error());
        }
        code = std::move(*c);
        return {};
    });
    if (!issued) {
        if (issued.error().code == ErrorCode::invalid_input) {
            return error(tr(page, msg::code_refused, {issued.error().message}));
        }
        return message_page(page, msg::server_error, 503);
    }
    page.services.audit(page.account.name, "code_issued",
                        "ttl=" + std::to_string(*ttl) + "h region=" + *region);
    const std::int64_t expires = page.services.now() + std::int64_t{*ttl} * 3600000;
    mstch::map issued_context{
        {"code", code},
        {"code_note", tr(page, msg::code_issued, {shown_time(expires)})},
    };
    // Shown once, here: the form starts empty again.
    issued_context["lawyer_value"] = std::string();
    issued_context["region_value"] = std::string();
    return devices_page(page, std::move(issued_context));
}

// A device the account sees that it may revoke: never the server's own (403).
std::optional<DeviceRecord> visible_device(const Page& page, const std::string& id,
                                           bool& server) {
    auto devices = visible_devices(page);
    if (!devices) {
        return std::nullopt;
    }
    for (auto& d : devices->devices) {
        if (d.device_id == id) {
            server = d.device_id == devices->server_id;
            return std::move(d);
        }
    }
    return std::nullopt;
}

web::Answer get_revoke(const Page& page) {
    if (!page.coordinator()) {
        return coordinators_only(page);
    }
    bool server = false;
    const auto device = visible_device(page, page.form.get("device"), server);
    if (!device) {
        return message_page(page, msg::device_unknown, 404);
    }
    if (server) {
        return message_page(page, msg::server_device_kept, 403);
    }
    return render_page(page, "revoke", tr(page, msg::revoke_title),
                       {{"question", tr(page, msg::revoke_question,
                                        {client::short_id(device->device_id), device->lawyer})},
                        {"device_id", device->device_id},
                        {"confirm", tr(page, msg::revoke_confirm)},
                        {"back", tr(page, msg::back_to_devices)}});
}

web::Answer post_revoke(const Page& page) {
    if (!page.coordinator()) {
        return coordinators_only(page);
    }
    bool server = false;
    const auto device = visible_device(page, page.form.get("device"), server);
    if (!device) {
        return message_page(page, msg::device_unknown, 404);
    }
    if (server) {
        return message_page(page, msg::server_device_kept, 403);
    }
    auto revoked = page.services.with_store(true, [&](Store& store) -> Result<void> {
        auto r = store.registry().revoke(device->device_id);
        if (!r) {
            return tl::unexpected(r.error());
        }
        return {};
    });
    if (!revoked) {
        return message_page(page, msg::server_error, 503);
    }
    const std::string short_id = client::short_id(device->device_id);
    page.services.audit(page.account.name, "device_revoked", "device=" + short_id);
    return web::redirect("/devices?revoked=" + web::url_encode(short_id));
}

} // namespace

void add_device_routes(Routes& routes) {
    routes.get["/devices"] = [](const Page& page) { return devices_page(page, {}); };
    routes.post["/devices/threshold"] = post_threshold;
    routes.post["/devices/code"] = post_code;
    routes.get["/devices/revoke"] = get_revoke;
    routes.post["/devices/revoke"] = post_revoke;
}

} // namespace caravan::dashboard
