#pragma once
// Refusals as the protocol states them: a stable `error.code` string, a message without
// personal data, optional extra keys for the error body, and the HTTP status that goes with the
// code (docs/protocol.md, "Status codes"). Failures of our own (an Error from storage) become
// `internal` or `unavailable` at the boundary, never a storage message in a response.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

#include "caravan/storage/result.hpp"
#include "caravan/sync/protocol/codes.hpp"

namespace caravan::sync::server {

// The codes themselves are the protocol's (caravan/sync/protocol/codes.hpp): `codes::` here names
// caravan::sync::codes.

// The HTTP status of a request-level code; 500 for an unknown one.
[[nodiscard]] int http_status_for(std::string_view code);

struct ApiError {
    std::string code;
    std::string message;
    nlohmann::json extra = nlohmann::json::object(); // merged into the error body
    std::string log_detail; // for the server's own log only (never sent): the underlying Error

    [[nodiscard]] int http_status() const { return http_status_for(code); }
    // {"error": {"code", "message"}, ...extra}
    [[nodiscard]] nlohmann::json body() const;
};

template <class T> using ApiResult = tl::expected<T, ApiError>;

[[nodiscard]] inline tl::unexpected<ApiError>
refuse(std::string_view code, std::string message,
       nlohmann::json extra = nlohmann::json::object()) {
    return tl::unexpected<ApiError>(
        ApiError{std::string(code), std::move(message), std::move(extra), std::string()});
}

// Our own failure, as a device sees it: `unavailable` (retry later) for a busy or full
// database, `internal` otherwise. The Error's message is not passed on (log it instead).
[[nodiscard]] ApiError api_error_from(const Error& error);

} // namespace caravan::sync::server
