#pragma once
// Reading the keys of a body: one message shape for every codec of the protocol.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync::fields {

// invalid_input "malformed body: <what>".
[[nodiscard]] tl::unexpected<Error> malformed(std::string_view what);

// A required key of that type; otherwise malformed("\"key\" must be ...").
[[nodiscard]] Result<std::string> string(const nlohmann::json& j, std::string_view key);
[[nodiscard]] Result<std::int64_t> integer(const nlohmann::json& j, std::string_view key);
[[nodiscard]] Result<bool> boolean(const nlohmann::json& j, std::string_view key);
// An array of strings.
[[nodiscard]] Result<std::vector<std::string>> strings(const nlohmann::json& j,
                                                       std::string_view key);

// An optional key: nullopt when absent or of another type.
[[nodiscard]] std::optional<std::string> optional_string(const nlohmann::json& j,
                                                         std::string_view key);
[[nodiscard]] std::optional<std::int64_t> optional_integer(const nlohmann::json& j,
                                                           std::string_view key);

// What the enroll and rotate answers hand a device, all required: device_id, token and role
// (strings) and regions (an array of strings). Also refuses a body that is not an object.
struct Credentials {
    std::string device_id;
    std::string token;
    std::string role;
    std::vector<std::string> regions;
};
[[nodiscard]] Result<Credentials> credentials(const nlohmann::json& j);

} // namespace caravan::sync::fields
