#pragma once
// What the sync server reads from an HTTP request, each part checked as the protocol states it
// (docs/protocol.md): the protocol header, the bearer token, the device's report headers and the
// body (bounded and decoded before it is parsed); the query strings are the protocol's
// (caravan/sync/protocol/routes.hpp). A refusal
// comes back as an ApiError with the protocol's code.
//
// Each also notes in the worker thread's RequestLog (current_request()) what the access log
// needs: bytes in, whether the whole body was read.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/server/api_error.hpp"
#include "caravan/sync/server/device_registry.hpp"

namespace caravan::sync::server {

// What the access log needs to know about the request this worker thread is serving. cpp-httplib
// runs routing, the handler and the logger of one request on the same thread.
struct RequestLog {
    std::chrono::steady_clock::time_point start;
    bool started = false;
    std::string device;         // short form
    std::int64_t bytes_in = -1; // as sent on the wire
    std::string code;           // error.code of a refusal
    bool body_read = false;     // the whole request body was consumed
};
// The RequestLog of the request this worker thread is serving.
[[nodiscard]] RequestLog& current_request();

// Counts in headers are read with the protocol's parse_count (caravan/sync/protocol/routes.hpp).
using sync::parse_count;
// `s` without leading and trailing spaces and tabs.
[[nodiscard]] std::string_view trim(std::string_view s);
[[nodiscard]] bool printable_ascii(std::string_view s);

// The device's report about itself. A header that does not parse is ignored: a bad report must
// not stop a sync.
[[nodiscard]] SyncReport report_from(const httplib::Request& req);

// The protocol header: missing is version 1; malformed when not a number, upgrade_required
// (with "protocol") for another version.
[[nodiscard]] ApiResult<void> check_protocol(const httplib::Request& req);

// The device of the "Authorization: Bearer TOKEN" header (scheme in any case): unauthenticated
// without one, else as DeviceRegistry::authenticate. Notes the device in current_request().
[[nodiscard]] ApiResult<DeviceRecord>
authenticate(const httplib::Request& req, DeviceRegistry& registry, bool allow_rotated = false);

// Reads the request body through `reader` and decodes it: refused from the announced length
// before a byte is read (too_large), bounded while read (8 MiB as sent uncompressed, 4 MiB as
// sent and 8 MiB decoded when compressed), malformed for an unknown Content-Encoding or a body
// that cannot be read or decoded, timeout past the request's deadline.
[[nodiscard]] ApiResult<std::string> read_body(const httplib::Request& req,
                                               const httplib::ContentReader& reader);
// The body, decoded and parsed: a JSON object within the protocol's limits (malformed
// otherwise).
[[nodiscard]] ApiResult<nlohmann::json> read_json_body(const httplib::Request& req,
                                                       const httplib::ContentReader& reader);

} // namespace caravan::sync::server
