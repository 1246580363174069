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

namespace caravan::sync::server {

namespace codes {
// Request-level codes (`error.code` of a non-2xx response).
inline constexpr std::string_view malformed = "malformed";                 // 400
inline constexpr std::string_view unauthenticated = "unauthenticated";     // 401
inline constexpr std::string_view device_revoked = "device_revoked";       // 401
inline constexpr std::string_view device_rotated = "device_rotated";       // 401 (+ successor)
inline constexpr std::string_view forbidden = "forbidden";                 // 403
inline constexpr std::string_view invalid_code = "invalid_code";           // 403
inline constexpr std::string_view not_found = "not_found";                 // 404
inline constexpr std::string_view timeout = "timeout";                     // 408
inline constexpr std::string_view sequence_gap = "sequence_gap";           // 409 (+ acked_seq)
inline constexpr std::string_view sequence_conflict = "sequence_conflict"; // 409
inline constexpr std::string_view epoch_changed = "epoch_changed";         // 409 (+ epoch)
inline constexpr std::string_view too_large = "too_large";                 // 413
inline constexpr std::string_view upgrade_required = "upgrade_required";   // 426
inline constexpr std::string_view slow_down = "slow_down";                 // 429 (+ retry_after)
inline constexpr std::string_view internal = "internal";                   // 500
inline constexpr std::string_view unavailable = "unavailable";             // 503 (+ retry_after)

// A device id the server knows already (enrolled, revoked, rotated, a predecessor or successor)
// offered for a new enrollment or as a rotation's new id: an id is enrolled once.
inline constexpr std::string_view device_id_taken = "device_id_taken"; // 409

// Per-event rejection codes (`results[i].code` with fate "rejected").
inline constexpr std::string_view invalid_event = "invalid_event";
inline constexpr std::string_view out_of_scope = "out_of_scope";
// The record depends on one the server did not accept (docs/protocol.md 6.3): its parent (a
// visit's village, a consultation's, attendance's, survey's or photo's visit), or, for an
// update or a delete, the record itself, was refused to this device ...
inline constexpr std::string_view parent_rejected = "parent_rejected";
// ... or its parent is not on the server at all.
inline constexpr std::string_view parent_unknown = "parent_unknown";
// The event's clock lies more than a day (client::Hlc::k_max_lead_ms) ahead of the server's
// wall clock, or is no clock value at all (the top bit set).
inline constexpr std::string_view clock_ahead = "clock_ahead";
} // namespace codes

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
