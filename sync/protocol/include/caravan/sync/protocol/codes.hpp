#pragma once
// Every `error.code` of the sync protocol (docs/protocol.md 4) and every per-event rejection code
// (`results[i].code`, docs/protocol.md 6.3). Both sides name a code only through these
// constants: the server answers with them, the device acts on them.

#include <string_view>

namespace caravan::sync::codes {

// Request-level codes (`error.code` of a non-2xx response), with their HTTP status.
inline constexpr std::string_view malformed = "malformed";                 // 400
inline constexpr std::string_view unauthenticated = "unauthenticated";     // 401
inline constexpr std::string_view device_revoked = "device_revoked";       // 401
inline constexpr std::string_view device_rotated = "device_rotated";       // 401 (+ successor)
inline constexpr std::string_view forbidden = "forbidden";                 // 403
inline constexpr std::string_view invalid_code = "invalid_code";           // 403
inline constexpr std::string_view not_found = "not_found";                 // 404
inline constexpr std::string_view timeout = "timeout";                     // 408
inline constexpr std::string_view sequence_gap = "sequence_gap";           // 409 (+ acked_seq)
inline constexpr std::string_view sequence_conflict = "sequence_conflict"; // 409 (+ seq)
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

} // namespace caravan::sync::codes
