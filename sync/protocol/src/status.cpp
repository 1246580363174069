#include "caravan/sync/protocol/status.hpp"

#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

json to_json(const StatusResponse& r) {
    return {{"epoch", r.epoch},
            {"protocol", r.protocol},
            {"server_time", r.server_time},
            {"device",
             {{"device_id", r.device.device_id},
              {"role", r.device.role},
              {"regions", r.device.regions}}},
            {"acked_seq", r.acked_seq},
            {"head", r.head}};
}

Result<StatusResponse> status_response_from_json(const json& j) {
    if (!j.is_object()) {
        return fields::malformed("the body must be a JSON object");
    }
    auto epoch = fields::string(j, "epoch");
    auto acked = fields::integer(j, "acked_seq");
    if (!epoch || !acked) {
        return tl::unexpected(!epoch ? epoch.error() : acked.error());
    }
    StatusResponse r;
    r.epoch = std::move(*epoch);
    r.acked_seq = *acked;
    r.protocol = static_cast<int>(fields::optional_integer(j, "protocol").value_or(0));
    r.server_time = fields::optional_string(j, "server_time").value_or("");
    r.head = fields::optional_integer(j, "head").value_or(0);
    if (auto device = j.find("device"); device != j.end() && device->is_object()) {
        r.device.device_id = fields::optional_string(*device, "device_id").value_or("");
        r.device.role = fields::optional_string(*device, "role").value_or("");
        if (auto regions = fields::strings(*device, "regions")) {
            r.device.regions = std::move(*regions);
        }
    }
    return r;
}

} // namespace caravan::sync
