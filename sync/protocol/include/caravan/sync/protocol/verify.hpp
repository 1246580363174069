#pragma once
// GET /v1/verify (docs/protocol.md 6.7): the count and digest (SetDigest) of the events the
// asking device may see, up to a server_seq.

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

struct VerifyResponse {
    std::int64_t upto = 0; // min(asked upto, head)
    std::int64_t count = 0;
    std::string digest; // 64 lowercase hex digits
};

[[nodiscard]] nlohmann::json to_json(const VerifyResponse& r);
// Requires upto and count (integers) and digest (a string).
[[nodiscard]] Result<VerifyResponse> verify_response_from_json(const nlohmann::json& j);

} // namespace caravan::sync
