#include "caravan/sync/protocol/rotate.hpp"

#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

json to_json(const RotateRequest& r) {
    return {{"device_id", r.device_id}, {"new_device_id", r.new_device_id}};
}

Result<RotateRequest> rotate_request_from_json(const json& j) {
    if (!j.is_object()) {
        return fail(ErrorCode::invalid_input, "the body must be a JSON object");
    }
    auto old_id = fields::optional_string(j, "device_id");
    auto new_id = fields::optional_string(j, "new_device_id");
    if (!old_id || !new_id) {
        return fail(ErrorCode::invalid_input,
                    "\"device_id\" and \"new_device_id\" must be strings");
    }
    return RotateRequest{std::move(*old_id), std::move(*new_id)};
}

json to_json(const RotateResponse& r) {
    return {{"device_id", r.device_id},
            {"predecessor", r.predecessor},
            {"token", r.token},
            {"role", r.role},
            {"regions", r.regions},
            {"epoch", r.epoch},
            {"server_time", r.server_time}};
}

Result<RotateResponse> rotate_response_from_json(const json& j) {
    auto c = fields::credentials(j);
    if (!c) {
        return tl::unexpected(c.error());
    }
    RotateResponse r;
    r.device_id = std::move(c->device_id);
    r.predecessor = fields::optional_string(j, "predecessor").value_or("");
    r.token = std::move(c->token);
    r.role = std::move(c->role);
    r.regions = std::move(c->regions);
    r.epoch = fields::optional_string(j, "epoch").value_or("");
    r.server_time = fields::optional_string(j, "server_time").value_or("");
    return r;
}

} // namespace caravan::sync
