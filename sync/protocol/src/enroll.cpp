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
    if (!j.is_object()) {
        return fields::malformed("the body must be a JSON object");
    }
    auto device_id = fields::string(j, "device_id");
    auto token = fields::string(j, "token");
    auto role = fields::string(j, "role");
    auto regions = fields::strings(j, "regions");
    auto epoch = fields::string(j, "epoch");
    for (const Error* e :
         {device_id ? nullptr : &device_id.error(), token ? nullptr : &token.error(),
          role ? nullptr : &role.error(), regions ? nullptr : &regions.error(),
          epoch ? nullptr : &epoch.error()}) {
        if (e) {
            return tl::unexpected(*e);
        }
    }
    return EnrollResponse{
        std::move(*device_id), std::move(*token),
        std::move(*role),      std::move(*regions),
        std::move(*epoch),     fields::optional_string(j, "server_time").value_or("")};
}

} // namespace caravan::sync
