#include "request_parts.hpp"

#include <algorithm>
#include <cctype>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "connection_guard.hpp"

namespace caravan::sync::server {

using nlohmann::json;

RequestLog& current_request() {
    // cpp-httplib runs routing, the handler and the logger of one request on the same thread.
    thread_local RequestLog request;
    return request;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
        s.remove_prefix(1);
    }
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
        s.remove_suffix(1);
    }
    return s;
}

bool printable_ascii(std::string_view s) {
    for (char c : s) {
        if (c < 0x20 || c > 0x7e) {
            return false;
        }
    }
    return true;
}

SyncReport report_from(const httplib::Request& req) {
    SyncReport report;
    if (req.has_header(std::string(k_header_app_version).c_str())) {
        std::string v(trim(req.get_header_value(std::string(k_header_app_version).c_str())));
        if (!v.empty() && v.size() <= 100 && printable_ascii(v)) {
            report.app_version = v;
        }
    }
    if (req.has_header(std::string(k_header_queue_depth).c_str())) {
        report.queue_depth =
            parse_count(trim(req.get_header_value(std::string(k_header_queue_depth).c_str())));
    }
    if (req.has_header(std::string(k_header_oldest_unsynced).c_str())) {
        std::string v(trim(req.get_header_value(std::string(k_header_oldest_unsynced).c_str())));
        bool iso = v.size() <= 40 && v.find_first_not_of("0123456789-:.TZ+") == std::string::npos;
        // An empty value says nothing (some HTTP stacks drop or blank headers): it is read as an
        // absent header. "Nothing unsynced" is said by X-Caravan-Queue-Depth: 0 (see Store).
        if (!v.empty() && iso) {
            report.has_oldest_unsynced = true;
            report.oldest_unsynced = v;
        }
    }
    return report;
}

ApiResult<void> check_protocol(const httplib::Request& req) {
    const std::string name(k_header_protocol);
    if (!req.has_header(name.c_str())) {
        return {}; // clients MUST send it; a missing one is read as version 1
    }
    auto version = parse_count(trim(req.get_header_value(name.c_str())));
    if (!version) {
        return refuse(codes::malformed, name + " must be an integer");
    }
    if (*version != k_protocol_version) {
        return refuse(codes::upgrade_required,
                      "this server speaks protocol " + std::to_string(k_protocol_version),
                      {{"protocol", k_protocol_version}});
    }
    return {};
}

namespace {

// The token of "Authorization: Bearer TOKEN" (scheme in any case); unauthenticated without one.
ApiResult<std::string> bearer_token(const httplib::Request& req) {
    const std::string value = req.get_header_value("Authorization");
    const std::string_view header = trim(value);
    constexpr std::string_view scheme = "bearer ";
    if (header.size() <= scheme.size() ||
        !std::equal(scheme.begin(), scheme.end(), header.begin(), [](char a, char b) {
            return a == std::tolower(static_cast<unsigned char>(b));
        })) {
        return refuse(codes::unauthenticated, "missing \"Authorization: Bearer\" token");
    }
    return std::string(trim(header.substr(scheme.size())));
}

} // namespace

ApiResult<DeviceRecord> authenticate(const httplib::Request& req, DeviceRegistry& registry,
                                     bool allow_rotated) {
    auto token = bearer_token(req);
    if (!token) {
        return tl::unexpected(token.error());
    }
    auto device = registry.authenticate(*token, allow_rotated);
    if (device) {
        current_request().device = client::short_id(device->device_id);
    }
    return device;
}

ApiResult<std::string> read_body(const httplib::Request& req,
                                 const httplib::ContentReader& reader) {
    const std::string header(trim(req.get_header_value("Content-Encoding")));
    auto encoding = encoding_from_header(header);
    if (!encoding) {
        return refuse(codes::malformed, "unsupported Content-Encoding (use zstd, gzip or none)");
    }
    std::optional<std::int64_t> wire;
    if (req.has_header("Content-Length")) {
        wire = parse_count(trim(req.get_header_value("Content-Length")));
        current_request().bytes_in = wire.value_or(-1);
    }
    // Refused from the announced length, before a byte of the body is read.
    if (wire && *wire > static_cast<std::int64_t>(Limits::max_body_bytes)) {
        return refuse(codes::too_large,
                      "a body may not exceed " + std::to_string(Limits::max_body_bytes) + " bytes");
    }
    if (*encoding != Encoding::identity && wire &&
        *wire > static_cast<std::int64_t>(Limits::max_compressed_bytes)) {
        return refuse(codes::too_large, "a compressed body may not exceed " +
                                            std::to_string(Limits::max_compressed_bytes) +
                                            " bytes");
    }
    // cpp-httplib inflates "gzip" while reading (so the cap below bounds the decoded size);
    // zstd and "x-gzip" arrive as sent and are decoded here.
    const bool decode_here = *encoding == Encoding::zstd || header == "x-gzip";
    const std::size_t cap = decode_here ? Limits::max_compressed_bytes : Limits::max_body_bytes;
    std::string body;
    if (wire) {
        // One allocation of the announced size (within the cap), not a doubling series.
        body.reserve(static_cast<std::size_t>(std::min<std::int64_t>(*wire, cap)));
    }
    bool over = false;
    bool read = reader([&](const char* data, std::size_t n) {
        if (body.size() + n > cap) {
            over = true;
            return false;
        }
        body.append(data, n);
        return true;
    });
    if (current_request().bytes_in < 0) {
        current_request().bytes_in = static_cast<std::int64_t>(body.size());
    }
    if (over) {
        return refuse(codes::too_large, "the body exceeds " + std::to_string(cap) + " bytes" +
                                            (decode_here ? "" : " once decoded"));
    }
    if (!read && ConnectionGuard::last_failure() == StreamFailure::deadline) {
        return refuse(codes::timeout, "the request was not received in time");
    }
    if (!read) {
        return refuse(codes::malformed, "the body could not be read or decoded");
    }
    current_request().body_read = true;
    if (decode_here) {
        auto plain = decode_body(body, *encoding, Limits::max_body_bytes);
        if (!plain) {
            // Only a body beyond the limit is too large; one that does not decode (or a decoder
            // that could not be set up) is malformed, as before the codes were named.
            const bool large = plain.error().code == codes::too_large;
            return refuse(large ? codes::too_large : codes::malformed, plain.error().message);
        }
        body = std::move(*plain);
    }
    return body;
}

ApiResult<json> read_json_body(const httplib::Request& req, const httplib::ContentReader& reader) {
    auto body = read_body(req, reader);
    if (!body) {
        return tl::unexpected(body.error());
    }
    auto parsed = parse_json_limited(*body);
    if (!parsed) {
        return refuse(codes::malformed, parsed.error().message);
    }
    if (!parsed->is_object()) {
        return refuse(codes::malformed, "the body must be a JSON object");
    }
    return std::move(*parsed);
}

} // namespace caravan::sync::server
