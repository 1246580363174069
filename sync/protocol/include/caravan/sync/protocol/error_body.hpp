#pragma once
// The body of every non-2xx response (docs/protocol.md 4):
//   {"error": {"code": "...", "message": "..."}, ...extra keys of that code}
// The extra keys are top-level; each belongs to the codes named beside it.

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

struct ErrorBody {
    std::string code;                        // one of caravan/sync/protocol/codes.hpp
    std::string message;                     // for people; never personal data
    std::optional<std::int64_t> acked_seq;   // sequence_gap, sequence_conflict
    std::optional<std::int64_t> seq;         // sequence_conflict: the first differing event
    std::optional<std::string> epoch;        // epoch_changed: the server's
    std::optional<std::string> successor;    // device_rotated, device_id_taken
    std::optional<std::int64_t> retry_after; // slow_down, unavailable: seconds
    std::optional<int> protocol;             // upgrade_required: the server's version
};

[[nodiscard]] nlohmann::json to_json(const ErrorBody& e);
// invalid_input unless `error` is an object with a string `code`. `message` and every extra key
// are read when present with the right type (retry_after: any number, truncated), and left out
// otherwise.
[[nodiscard]] Result<ErrorBody> error_body_from_json(const nlohmann::json& j);

} // namespace caravan::sync
