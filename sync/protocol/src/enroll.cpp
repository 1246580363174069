#include "caravan/sync/protocol/enroll.hpp"

#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

json to_json(const EnrollRequest& r) {
    json j = {{"code", r.code}, {"device_id", r.device_id}};
    if (r.lawyer) {
        j["lawyer"] = *r.lawyer;
    }
    if (r.app_version) {
        j["app_version"] = *r.app_version;
    }
    return j;
}

Result<EnrollRequest> enroll_request_from_json(const json& j) {
    if (!j.is_object()) {
        return fail(ErrorCode::invalid_input, "the body must be a JSON object");
    }
    auto code = fields::optional_string(j, "code");
    auto device_id = fields::optional_string(j, "device_id");
    if (!code || !device_id) {
        return fail(ErrorCode::invalid_input, "\"code\" and \"device_id\" must be strings");
    }
    return EnrollRequest{std::move(*code), std::move(*device_id),
                         fields::optional_string(j, "lawyer"),
                         fields::optional_string(j, "app_version")};
}

json to_json(const EnrollResponse& r) {
    return {{"device_id", r.device_id}, {"token", r.token}, {"role", r.role},
            {"regions", r.regions},     {"epoch", r.epoch}, {"server_time", r.server_time}};
}

Result<EnrollResponse> enroll_response_from_json(const json& j) {
    auto c = fields::credentials(j);
    if (!c) {
        return tl::unexpected(c.error());
    }
    auto epoch = fields::string(j, "epoch");
    if (!epoch) {
        return tl::unexpected(epoch.error());
    }
    return EnrollResponse{
        std::move(c->device_id), std::move(c->token),
        std::move(c->role),      std::move(c->regions),
        std::move(*epoch),       fields::optional_string(j, "server_time").value_or("")};
}

} // namespace caravan::sync
