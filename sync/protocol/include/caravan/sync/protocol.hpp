#pragma once
// Wire types and codec of the Caravan sync protocol, version 1: events, push and pull bodies,
// headers, limits, compression, the verify digest. The specification is docs/protocol.md.
// The rest of the vocabulary is beside this header, in caravan/sync/protocol/: routes.hpp (every
// path and query), codes.hpp (every error code), and one codec per body (enroll.hpp,
// status.hpp, verify.hpp, rotate.hpp, error_body.hpp).
// No networking and no database here: both the device agent and the server use these to
// encode and decode bodies, so the two sides cannot drift apart.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/storage/event_log.hpp"
#include "caravan/storage/result.hpp"
#include "caravan/sync/protocol/codes.hpp"

namespace caravan::sync {

inline constexpr int k_protocol_version = 1;
inline constexpr std::string_view k_json_content_type = "application/json; charset=utf-8";

// Headers (names are case-insensitive on the wire).
inline constexpr std::string_view k_header_protocol = "X-Caravan-Protocol";
inline constexpr std::string_view k_header_app_version = "X-Caravan-App-Version";
inline constexpr std::string_view k_header_queue_depth = "X-Caravan-Queue-Depth";
inline constexpr std::string_view k_header_oldest_unsynced = "X-Caravan-Oldest-Unsynced";

// Limits every peer enforces (a request beyond them gets 413 or 400).
struct Limits {
    static constexpr std::size_t max_body_bytes = 8 << 20;       // after decompression
    static constexpr std::size_t max_compressed_bytes = 4 << 20; // on the wire
    static constexpr std::size_t max_events_per_push = 5000;
    static constexpr std::size_t max_events_per_pull = 5000;
    static constexpr int max_json_depth = 16;
    static constexpr std::size_t max_string_bytes = 64 << 10; // any single JSON string
    // Values in one JSON document (every object, array, string, number, literal, the root
    // included). A value costs the parser up to ~160 bytes whatever its text, so this bounds a
    // parsed body at about 40 MiB; a full push of 5000 events needs about 200 000.
    static constexpr std::size_t max_json_values = 1 << 18;
    // The request line and headers of one HTTP request, the blank line included.
    static constexpr std::size_t max_header_bytes = 32 << 10;
    static constexpr std::size_t max_header_lines = 100;
};

// ---- events on the wire -----------------------------------------------------------------
// {"device_id": uuid, "seq": int>0, "hlc": "16 hex digits", "entity_type": str,
//  "entity_id": uuid, "op": "create"|"update"|"delete", "payload": {object},
//  "schema_version": int, "server_seq": int (pull only)}
// The payload travels as a JSON object; both sides store its canonical text (nlohmann's dump():
// keys sorted, no spaces), so equal events have equal bytes and equal checksums.

[[nodiscard]] nlohmann::json event_to_json(const storage::Event& event);
// Checks types and shapes only (not domain validity): a message names the offending key.
[[nodiscard]] Result<storage::Event> event_from_json(const nlohmann::json& value);
// The canonical payload text for a payload object.
[[nodiscard]] std::string canonical_payload(const nlohmann::json& payload);

// ---- bodies --------------------------------------------------------------------------------

struct PushRequest {
    std::string device_id;
    std::vector<storage::Event> events; // ascending seq, all of device_id
};

enum class EventFate { accepted, duplicate, rejected };
[[nodiscard]] std::string_view to_string(EventFate fate);

struct EventResult {
    std::int64_t seq = 0;
    EventFate fate = EventFate::accepted;
    std::optional<std::int64_t> server_seq; // accepted/duplicate: position in the change feed
    std::string code;                       // rejected: stable reason code
    std::string message;                    // rejected: human reason (no personal data)
};

struct PushResponse {
    std::int64_t acked_seq = 0; // highest contiguous seq the server holds for this device
    std::string epoch;
    std::vector<EventResult> results;
};

struct PullResponse {
    std::string epoch;
    std::vector<storage::Event> events; // with server_seq set, ascending
    std::int64_t next_after = 0;        // cursor to send next time
    bool more = false;
};

[[nodiscard]] nlohmann::json to_json(const PushRequest& r);
// The same body around events already encoded with event_to_json (without server_seq), for a
// sender that sizes each event as it encodes it.
[[nodiscard]] nlohmann::json push_request_json(std::string_view device_id, nlohmann::json events);
[[nodiscard]] Result<PushRequest> push_request_from_json(const nlohmann::json& j);
[[nodiscard]] nlohmann::json to_json(const PushResponse& r);
[[nodiscard]] Result<PushResponse> push_response_from_json(const nlohmann::json& j);
[[nodiscard]] nlohmann::json to_json(const PullResponse& r);
[[nodiscard]] Result<PullResponse> pull_response_from_json(const nlohmann::json& j);

// Every error response: {"error": {"code": "...", "message": "..."}} plus optional extra keys
// (e.g. "acked_seq" with sequence_gap, "retry_after" with slow_down).
[[nodiscard]] nlohmann::json error_body(std::string_view code, std::string_view message);

// Parses JSON text within the limits: size, nesting depth, string length, number of values
// (Limits). The limits are checked in one pass over the text before any value is built, so
// text over a limit costs no memory beyond itself; a message gives the byte offset of the
// first value over the limit or of a syntax error.
[[nodiscard]] Result<nlohmann::json> parse_json_limited(std::string_view text);

// ---- compression ---------------------------------------------------------------------------

enum class Encoding { identity, gzip, zstd };
[[nodiscard]] std::string_view to_string(Encoding e);
// From a Content-Encoding header value; nullopt for an unsupported one.
[[nodiscard]] std::optional<Encoding> encoding_from_header(std::string_view value);
// The best encoding acceptable to a peer that sent this Accept-Encoding: zstd, then gzip.
[[nodiscard]] Encoding choose_encoding(std::string_view accept_encoding);
[[nodiscard]] Result<std::string> compress(std::string_view data, Encoding e);
// Refuses (ErrorCode::invalid_input, "too large") output beyond `max_output` bytes.
[[nodiscard]] Result<std::string> decompress(std::string_view data, Encoding e,
                                             std::size_t max_output = Limits::max_body_bytes);
// Why decode_body refused a body: the request-level code a receiver answers with
// (codes::too_large for output beyond the limit, codes::malformed for a body that does not
// decode, codes::internal when the decoder could not be set up) and the message decompress gives.
struct DecodeRefusal {
    std::string_view code;
    std::string message;
};
// decompress, with the refusal named by its protocol code rather than only in words.
[[nodiscard]] tl::expected<std::string, DecodeRefusal>
decode_body(std::string_view data, Encoding e, std::size_t max_output = Limits::max_body_bytes);

// ---- verification --------------------------------------------------------------------------
// Order-independent digest of a set of events: XOR of SHA-256 over each event's canonical
// line "device_id\nseq\nhlc_hex\nentity_type\nentity_id\nop\npayload\nschema_version".
class SetDigest {
  public:
    void add(const storage::Event& event);
    [[nodiscard]] std::int64_t count() const { return m_count; }
    [[nodiscard]] std::string hex() const;

  private:
    unsigned char m_xor[32] = {};
    std::int64_t m_count = 0;
};

} // namespace caravan::sync
