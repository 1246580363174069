#pragma once
// POST /v1/rotate (docs/protocol.md 6.9): a device whose log diverged from the server's asks to
// continue under a new device id; the server answers with the new id's credentials.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

struct RotateRequest {
    std::string device_id;     // the token's device
    std::string new_device_id; // a lowercase UUID chosen by the device
};

struct RotateResponse {
    std::string device_id;   // the new id
    std::string predecessor; // the old id
    std::string token;       // 64 lowercase hex digits
    std::string role;
    std::vector<std::string> regions;
    std::string epoch;
    std::string server_time;
};

[[nodiscard]] nlohmann::json to_json(const RotateRequest& r);
// invalid_input "\"device_id\" and \"new_device_id\" must be strings" (the message a server
// answers with `malformed`).
[[nodiscard]] Result<RotateRequest> rotate_request_from_json(const nlohmann::json& j);
[[nodiscard]] nlohmann::json to_json(const RotateResponse& r);
// Requires device_id, token, role and regions; predecessor, epoch and server_time are read when
// present (empty otherwise).
[[nodiscard]] Result<RotateResponse> rotate_response_from_json(const nlohmann::json& j);

} // namespace caravan::sync
