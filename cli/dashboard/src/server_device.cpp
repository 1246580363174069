#include "server_device.hpp"

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/sync/protocol.hpp"

namespace caravan::dashboard {
namespace {

using nlohmann::json;
using sync::server::DeviceRecord;
using sync::server::Store;

// An enrollment code lives long enough for the enrollment that follows it at once.
constexpr std::int64_t k_code_ttl_hours = 1;

Result<std::optional<DeviceRecord>> find_device(Store& store, const std::string& id) {
    CARAVAN_TRY(devices, store.registry().devices());
    for (auto& d : devices) {
        if (d.device_id == id) {
            return std::optional<DeviceRecord>(std::move(d));
        }
    }
    return std::optional<DeviceRecord>();
}

// The server's device, enrolled now when it is not yet: its id claimed in meta first, so two
// processes doing this at once enroll one id (the second enrollment of it is refused, and the
// second process reads the first one's device).
Result<DeviceRecord> server_device(Store& store) {
    CARAVAN_TRY(id, store.server_device(client::uuid_v7(store.now_ms())));
    CARAVAN_TRY(found, find_device(store, id));
    if (found) {
        return std::move(*found);
    }
    sync::server::CodeRequest request;
    request.lawyer = std::string(k_server_lawyer);
    request.role = sync::server::Role::coordinator;
    request.ttl_hours = k_code_ttl_hours;
    CARAVAN_TRY(code, store.registry().create_code(request));
    auto enrolled = store.registry().enroll(code, id, sync::server::SyncReport{});
    if (enrolled) {
        return std::move(enrolled->device); // its token is not kept anywhere
    }
    CARAVAN_TRY(again, find_device(store, id));
    if (!again) {
        // i18n-exempt: written to the server's log only; the page answers with its catalog's words
        return fail(ErrorCode::internal, "the server's device could not be enrolled: " +
                                             enrolled.error().code);
    }
    return std::move(*again);
}

// The greatest clock value in the feed, one index lookup per enrolled device (every event in
// the feed is an enrolled device's; a scan of the whole feed would hold the write lock for it).
Result<std::int64_t> greatest_hlc(Store& store) {
    CARAVAN_TRY(devices, store.registry().devices());
    std::int64_t greatest = 0;
    for (const auto& d : devices) {
        CARAVAN_TRY(max, store.database()
                             .query("SELECT max(hlc) FROM events WHERE device_id = ?", d.device_id)
                             .one<std::int64_t>());
        greatest = std::max(greatest, max.value_or(0));
    }
    return greatest;
}

} // namespace

Result<std::string> server_device_id(Store& store) {
    return store.server_device("");
}

Result<void> write_as_server(Store& store, std::vector<storage::Event> events) {
    CARAVAN_TRY(device, server_device(store));
    if (device.revoked() || device.rotated()) {
        // i18n-exempt: written to the server's log only; the page answers with its catalog's words
        return fail(ErrorCode::forbidden, "the server's device was revoked");
    }
    if (device.acked_seq == 0) {
        // Its first event describes it, as `caravan init` does for a laptop.
        storage::Event self;
        self.entity_type = std::string(client::entities::device.type);
        self.entity_id = device.device_id;
        self.op = std::string(client::k_op_create);
        self.payload = json{{"fields",
                             {{"lawyer", std::string(k_server_lawyer)},
                              {"region", ""},
                              {"deleted", false}}}}
                           .dump();
        events.insert(events.begin(), std::move(self));
    }
    const std::int64_t now = store.now_ms();
    CARAVAN_TRY(greatest, greatest_hlc(store));
    const client::Hlc ceiling = client::clock_ceiling(now);
    std::int64_t hlc = std::max(client::Hlc::from_parts(now, 0).value, greatest + 1);
    std::int64_t seq = device.acked_seq;
    for (auto& e : events) {
        e.device_id = device.device_id;
        e.seq = ++seq;
        e.hlc = std::min(hlc++, ceiling.value);
        e.schema_version = client::k_event_schema_version;
        e.payload = sync::canonical_payload(json::parse(e.payload));
    }
    sync::server::SyncReport report;
#ifdef CARAVAN_VERSION
    report.app_version = "caravan-server " CARAVAN_VERSION;
#endif
    report.queue_depth = 0;
    report.has_oldest_unsynced = true;
    const std::size_t count = events.size();
    auto pushed = store.feed().push(device, sync::PushRequest{device.device_id, std::move(events)},
                                    report);
    if (!pushed) {
        const std::string& code = pushed.error().code;
        if (code == sync::codes::sequence_conflict || code == sync::codes::sequence_gap) {
            // i18n-exempt: written to the server's log only; the page answers with its catalog's words
            return fail(ErrorCode::busy, "another server process wrote as the server's device");
        }
        // i18n-exempt: written to the server's log only; the page answers with its catalog's words
        return fail(ErrorCode::internal, "the server's push was refused: " + code);
    }
    const auto& results = pushed->results;
    const bool all_accepted =
        results.size() == count && std::all_of(results.begin(), results.end(), [](const auto& r) {
            return r.fate == sync::EventFate::accepted;
        });
    if (!all_accepted) {
        std::string codes;
        for (const auto& r : results) {
            codes += (codes.empty() ? "" : ",") +
                     (r.code.empty() ? std::string(to_string(r.fate)) : r.code);
        }
        // i18n-exempt: written to the server's log only; the page answers with its catalog's words
        return fail(ErrorCode::internal, "the server's event was not accepted: " + codes);
    }
    return {};
}

} // namespace caravan::dashboard
