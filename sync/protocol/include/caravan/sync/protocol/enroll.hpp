#pragma once
// POST /v1/enroll (docs/protocol.md 6.1): the request a device sends with its enrollment code
// and the credentials the server answers with.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

struct EnrollRequest {
    std::string code;                       // as the device normalized it, "K7Q-94X-2MC"
    std::string device_id;                  // a lowercase UUID (the server checks its form)
    std::optional<std::string> lawyer;      // not stored: the code names the lawyer
    std::optional<std::string> app_version; // also sent as X-Caravan-App-Version
};

struct EnrollResponse {
    std::string device_id;
    std::string token;                // 64 lowercase hex digits
    std::string role;                 // "lawyer" | "coordinator"
    std::vector<std::string> regions; // empty for a coordinator
    std::string epoch;
    std::string server_time; // ISO 8601 UTC; empty when the server left it out
};

[[nodiscard]] nlohmann::json to_json(const EnrollRequest& r);
// invalid_input "\"code\" and \"device_id\" must be strings" (the message a server answers with
// `malformed`); an optional key of another type is read as absent.
[[nodiscard]] Result<EnrollRequest> enroll_request_from_json(const nlohmann::json& j);
[[nodiscard]] nlohmann::json to_json(const EnrollResponse& r);
// Requires device_id, token, role, regions (strings) and epoch; server_time is optional.
[[nodiscard]] Result<EnrollResponse> enroll_response_from_json(const nlohmann::json& j);

} // namespace caravan::sync
