#pragma once
// GET /v1/status (docs/protocol.md 6.2): what the server holds of the asking device.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

struct StatusResponse {
    std::string epoch;
    int protocol = 0;
    std::string server_time; // ISO 8601 UTC
    struct Device {
        std::string device_id;
        std::string role;
        std::vector<std::string> regions;
    } device;
    std::int64_t acked_seq = 0; // of the asking device
    std::int64_t head = 0;      // the highest server_seq
};

[[nodiscard]] nlohmann::json to_json(const StatusResponse& r);
// Requires epoch (a string) and acked_seq (an integer), what a device acts on; the other keys
// are read when present with the right type.
[[nodiscard]] Result<StatusResponse> status_response_from_json(const nlohmann::json& j);

} // namespace caravan::sync
