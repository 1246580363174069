#pragma once
// Every path of the protocol (docs/protocol.md 6) and the query strings of the two GET routes
// that take parameters. A request target is a path below the server's base URL, with its query:
// "/v1/pull?after=0&limit=500&epoch=805fb4ebebf4571d&own_upto=12".

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/storage/result.hpp"

namespace caravan::sync {

namespace routes {
// Every path starts with the protocol version's prefix (a user may give a server URL with it).
inline constexpr std::string_view version_prefix = "/v1";
inline constexpr std::string_view enroll = "/v1/enroll"; // POST, no token
inline constexpr std::string_view status = "/v1/status"; // GET
inline constexpr std::string_view push = "/v1/push";     // POST
inline constexpr std::string_view pull = "/v1/pull";     // GET ?after&limit&epoch&own_upto
inline constexpr std::string_view verify = "/v1/verify"; // GET ?upto
inline constexpr std::string_view health = "/v1/health"; // GET, no token, no protocol check
inline constexpr std::string_view rotate = "/v1/rotate"; // POST
// The coordinator exports (docs/protocol.md 6.11): not part of sync.
inline constexpr std::string_view export_journal = "/v1/export/journal";       // GET
inline constexpr std::string_view export_breakdown = "/v1/export/breakdown";   // GET
inline constexpr std::string_view export_indicators = "/v1/export/indicators"; // POST (GET: 405)

inline constexpr std::string_view sync_routes[] = {enroll, status, push,  pull,
                                                   verify, health, rotate};
inline constexpr std::string_view export_routes[] = {export_journal, export_breakdown,
                                                     export_indicators};
} // namespace routes

// Query parameters by name, as cpp-httplib hands them over (httplib::Params is this type).
using QueryParams = std::multimap<std::string, std::string>;

// A request target taken apart: the path and its query parameters, percent-decoded.
struct Target {
    std::string path;
    QueryParams params;
};
[[nodiscard]] Target split_target(std::string_view target);

// A count as a query parameter or a header carries it: decimal digits only, at most 18 of them
// ("0".."999999999999999999"); nullopt otherwise.
[[nodiscard]] std::optional<std::int64_t> parse_count(std::string_view text);

// Percent-encodes everything but unreserved characters (RFC 3986 2.3).
[[nodiscard]] std::string url_encode(std::string_view text);

// GET /v1/pull (docs/protocol.md 6.5).
struct PullQuery {
    std::int64_t after = 0; // the cursor
    std::int64_t limit = 0; // events per page; 0: the server's default (not sent)
    std::string epoch;      // the epoch the cursor belongs to; empty: any
    std::int64_t own_upto = 0;
};
// "/v1/pull?after=A&limit=L&epoch=E&own_upto=O" (limit left out when 0).
[[nodiscard]] std::string target(const PullQuery& query);
// Absent parameters take the defaults above. invalid_input, with the message a server answers
// (`malformed`), for a count that is not a non-negative integer ("\"after\" must be a
// non-negative integer") or a limit of 0 ("\"limit\" must be at least 1").
[[nodiscard]] Result<PullQuery> pull_query_from(const QueryParams& params);

// GET /v1/verify (docs/protocol.md 6.7).
struct VerifyQuery {
    std::optional<std::int64_t> upto; // nullopt: up to the server's head
};
// "/v1/verify?upto=U", or "/v1/verify" without upto.
[[nodiscard]] std::string target(const VerifyQuery& query);
[[nodiscard]] Result<VerifyQuery> verify_query_from(const QueryParams& params);

} // namespace caravan::sync
