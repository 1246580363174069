#include "caravan/sync/protocol.hpp"

#include <sodium.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

namespace {

// The wire's spelling of each value of an enumeration, for both directions.
constexpr std::pair<EventFate, std::string_view> k_fates[] = {
    {EventFate::accepted, "accepted"},
    {EventFate::duplicate, "duplicate"},
    {EventFate::rejected, "rejected"},
};

constexpr std::pair<Encoding, std::string_view> k_encodings[] = {
    {Encoding::identity, "identity"},
    {Encoding::gzip, "gzip"},
    {Encoding::zstd, "zstd"},
};

// `otherwise` for a value outside the enumeration (a cast from a bad integer).
template <class E, std::size_t N>
std::string_view spelling(const std::pair<E, std::string_view> (&table)[N], E value,
                          std::string_view otherwise) {
    for (const auto& [e, name] : table) {
        if (e == value) {
            return name;
        }
    }
    return otherwise;
}

template <class E, std::size_t N>
std::optional<E> spelled(const std::pair<E, std::string_view> (&table)[N], std::string_view name) {
    for (const auto& [e, text] : table) {
        if (text == name) {
            return e;
        }
    }
    return std::nullopt;
}

std::string hlc_hex(std::int64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

std::optional<std::int64_t> parse_hlc_hex(const std::string& text) {
    if (text.size() != 16) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (char c : text) {
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0) {
            return std::nullopt;
        }
        v = (v << 4) | static_cast<std::uint64_t>(d);
    }
    // Every 16 digits are read, those with the top bit too (as the negative value with the same
    // bits, which hlc_hex writes back identically): whether a clock value is believable is the
    // receiver's per-event judgement (`clock_ahead`), never a reason to refuse a whole body.
    return static_cast<std::int64_t>(v);
}

using fields::malformed;

Result<std::vector<storage::Event>> events_from(const json& j, std::size_t max) {
    auto it = j.find("events");
    if (it == j.end() || !it->is_array()) {
        return malformed("\"events\" must be an array");
    }
    if (it->size() > max) {
        return fail(ErrorCode::invalid_input,
                    "too many events in one body (limit " + std::to_string(max) + ")");
    }
    std::vector<storage::Event> events;
    events.reserve(it->size());
    for (std::size_t i = 0; i < it->size(); ++i) {
        auto e = event_from_json((*it)[i]);
        if (!e) {
            return fail(e.error().code, "events[" + std::to_string(i) + "]: " + e.error().message);
        }
        events.push_back(std::move(*e));
    }
    return events;
}

} // namespace

std::string canonical_payload(const json& payload) {
    return payload.dump();
}

json event_to_json(const storage::Event& e) {
    json payload = json::parse(e.payload, nullptr, false);
    json j = {{"device_id", e.device_id},
              {"seq", e.seq},
              {"hlc", hlc_hex(e.hlc)},
              {"entity_type", e.entity_type},
              {"entity_id", e.entity_id},
              {"op", e.op},
              {"payload", payload.is_discarded() ? json::object() : payload},
              {"schema_version", e.schema_version}};
    if (e.server_seq) {
        j["server_seq"] = *e.server_seq;
    }
    return j;
}

Result<storage::Event> event_from_json(const json& j) {
    if (!j.is_object()) {
        return malformed("an event must be an object");
    }
    storage::Event e;
    auto device_id = fields::string(j, "device_id");
    auto seq = fields::integer(j, "seq");
    auto hlc = fields::string(j, "hlc");
    auto entity_type = fields::string(j, "entity_type");
    auto entity_id = fields::string(j, "entity_id");
    auto op = fields::string(j, "op");
    auto schema = fields::integer(j, "schema_version");
    for (const Error* err :
         {device_id ? nullptr : &device_id.error(), seq ? nullptr : &seq.error(),
          hlc ? nullptr : &hlc.error(), entity_type ? nullptr : &entity_type.error(),
          entity_id ? nullptr : &entity_id.error(), op ? nullptr : &op.error(),
          schema ? nullptr : &schema.error()}) {
        if (err) {
            return tl::unexpected(*err);
        }
    }
    auto hlc_value = parse_hlc_hex(*hlc);
    if (!hlc_value) {
        return malformed("\"hlc\" must be 16 lowercase hex digits");
    }
    if (*seq <= 0) {
        return malformed("\"seq\" must be positive");
    }
    if (*schema < 0 || *schema > 1000000) {
        return malformed("\"schema_version\" out of range");
    }
    auto payload = j.find("payload");
    if (payload == j.end() || !payload->is_object()) {
        return malformed("\"payload\" must be an object");
    }
    e.device_id = std::move(*device_id);
    e.seq = *seq;
    e.hlc = *hlc_value;
    e.entity_type = std::move(*entity_type);
    e.entity_id = std::move(*entity_id);
    e.op = std::move(*op);
    e.payload = canonical_payload(*payload);
    e.schema_version = static_cast<int>(*schema);
    if (auto ss = j.find("server_seq"); ss != j.end()) {
        if (!ss->is_number_integer() || ss->get<std::int64_t>() <= 0) {
            return malformed("\"server_seq\" must be a positive integer");
        }
        e.server_seq = ss->get<std::int64_t>();
    }
    return e;
}

std::string_view to_string(EventFate fate) {
    return spelling(k_fates, fate, "rejected");
}

json to_json(const PushRequest& r) {
    json events = json::array();
    for (const auto& e : r.events) {
        events.push_back(event_to_json(e));
    }
    return push_request_json(r.device_id, std::move(events));
}

json push_request_json(std::string_view device_id, json events) {
    return {{"device_id", device_id}, {"events", std::move(events)}};
}

Result<PushRequest> push_request_from_json(const json& j) {
    if (!j.is_object()) {
        return malformed("the body must be a JSON object");
    }
    auto device_id = fields::string(j, "device_id");
    if (!device_id) {
        return tl::unexpected(device_id.error());
    }
    auto events = events_from(j, Limits::max_events_per_push);
    if (!events) {
        return tl::unexpected(events.error());
    }
    return PushRequest{std::move(*device_id), std::move(*events)};
}

json to_json(const PushResponse& r) {
    json results = json::array();
    for (const auto& x : r.results) {
        json item = {{"seq", x.seq}, {"fate", to_string(x.fate)}};
        if (x.server_seq) {
            item["server_seq"] = *x.server_seq;
        }
        if (x.fate == EventFate::rejected) {
            item["code"] = x.code;
            item["message"] = x.message;
        }
        results.push_back(std::move(item));
    }
    return {{"acked_seq", r.acked_seq}, {"epoch", r.epoch}, {"results", std::move(results)}};
}

Result<PushResponse> push_response_from_json(const json& j) {
    if (!j.is_object()) {
        return malformed("the body must be a JSON object");
    }
    PushResponse r;
    auto acked = fields::integer(j, "acked_seq");
    auto epoch = fields::string(j, "epoch");
    if (!acked || !epoch) {
        return tl::unexpected(!acked ? acked.error() : epoch.error());
    }
    r.acked_seq = *acked;
    r.epoch = *epoch;
    auto results = j.find("results");
    if (results == j.end() || !results->is_array()) {
        return malformed("\"results\" must be an array");
    }
    for (const json& item : *results) {
        if (!item.is_object()) {
            return malformed("a result must be an object");
        }
        EventResult x;
        auto seq = fields::integer(item, "seq");
        auto fate = fields::string(item, "fate");
        if (!seq || !fate) {
            return tl::unexpected(!seq ? seq.error() : fate.error());
        }
        x.seq = *seq;
        auto known = spelled(k_fates, *fate);
        if (!known) {
            return malformed("unknown \"fate\"");
        }
        x.fate = *known;
        if (auto ss = item.find("server_seq"); ss != item.end() && ss->is_number_integer()) {
            x.server_seq = ss->get<std::int64_t>();
        }
        x.code = item.value("code", "");
        x.message = item.value("message", "");
        r.results.push_back(std::move(x));
    }
    return r;
}

json to_json(const PullResponse& r) {
    json events = json::array();
    for (const auto& e : r.events) {
        events.push_back(event_to_json(e));
    }
    return {{"epoch", r.epoch},
            {"events", std::move(events)},
            {"next_after", r.next_after},
            {"more", r.more}};
}

Result<PullResponse> pull_response_from_json(const json& j) {
    if (!j.is_object()) {
        return malformed("the body must be a JSON object");
    }
    PullResponse r;
    auto epoch = fields::string(j, "epoch");
    auto next = fields::integer(j, "next_after");
    auto more = fields::boolean(j, "more");
    if (!epoch || !next || !more) {
        return tl::unexpected(!epoch ? epoch.error() : !next ? next.error() : more.error());
    }
    auto events = events_from(j, Limits::max_events_per_pull);
    if (!events) {
        return tl::unexpected(events.error());
    }
    for (const auto& e : *events) {
        if (!e.server_seq) {
            return malformed("pulled events must carry \"server_seq\"");
        }
    }
    r.epoch = std::move(*epoch);
    r.next_after = *next;
    r.more = *more;
    r.events = std::move(*events);
    return r;
}

json error_body(std::string_view code, std::string_view message) {
    return {{"error", {{"code", code}, {"message", message}}}};
}

Result<json> parse_json_limited(std::string_view text) {
    if (text.size() > Limits::max_body_bytes) {
        return fail(ErrorCode::invalid_input, "body too large");
    }
    // One pass over the text for nesting depth, string length and the number of values, before
    // building anything: the DOM costs far more than the text (an empty object is 2 bytes of
    // text and ~100 bytes of heap), so the count must be known first. Outside strings, every
    // value but the root follows an opening bracket or a comma, so
    //   values <= 1 + brackets opened + commas
    // holds for anything the parser could build, well-formed or not.
    int depth = 0;
    bool in_string = false, escaped = false;
    std::size_t string_start = 0;
    std::size_t values = 1;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
                if (i - string_start > Limits::max_string_bytes) {
                    return fail(ErrorCode::invalid_input,
                                "a string longer than " + std::to_string(Limits::max_string_bytes) +
                                    " bytes at offset " + std::to_string(string_start));
                }
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
            string_start = i;
            continue;
        }
        if (c == '{' || c == '[') {
            if (++depth > Limits::max_json_depth) {
                return fail(ErrorCode::invalid_input, "JSON nested deeper than " +
                                                          std::to_string(Limits::max_json_depth) +
                                                          " levels at offset " + std::to_string(i));
            }
        } else if (c == '}' || c == ']') {
            --depth;
            continue;
        } else if (c != ',') {
            continue;
        }
        if (++values > Limits::max_json_values) {
            return fail(ErrorCode::invalid_input,
                        "more than " + std::to_string(Limits::max_json_values) +
                            " JSON values at offset " + std::to_string(i));
        }
    }
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        return fail(ErrorCode::invalid_input, "malformed JSON at byte " + std::to_string(e.byte));
    } catch (const json::exception&) {
        // e.g. out_of_range 406: a number too large for a double ("9e999").
        return fail(ErrorCode::invalid_input, "malformed JSON: a number is out of range");
    }
}

std::string_view to_string(Encoding e) {
    return spelling(k_encodings, e, "identity");
}

std::optional<Encoding> encoding_from_header(std::string_view value) {
    if (value.empty()) {
        return Encoding::identity;
    }
    if (value == "x-gzip") {
        return Encoding::gzip;
    }
    return spelled(k_encodings, value);
}

Encoding choose_encoding(std::string_view accept) {
    auto has = [&](std::string_view token) {
        std::size_t pos = 0;
        while ((pos = accept.find(token, pos)) != std::string_view::npos) {
            bool start = pos == 0 || accept[pos - 1] == ' ' || accept[pos - 1] == ',';
            std::size_t end = pos + token.size();
            bool stop = end == accept.size() || accept[end] == ',' || accept[end] == ';' ||
                        accept[end] == ' ';
            if (start && stop) {
                // "zstd;q=0" refuses it
                std::string_view rest = accept.substr(end);
                if (rest.starts_with(";q=0") && !rest.starts_with(";q=0.")) {
                    return false;
                }
                return true;
            }
            pos = end;
        }
        return false;
    };
    if (has("zstd")) {
        return Encoding::zstd;
    }
    if (has("gzip")) {
        return Encoding::gzip;
    }
    return Encoding::identity;
}

Result<std::string> compress(std::string_view data, Encoding e) {
    if (e == Encoding::identity) {
        return std::string(data);
    }
    if (e == Encoding::zstd) {
        std::string out(ZSTD_compressBound(data.size()), '\0');
        size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
        if (ZSTD_isError(n)) {
            return fail(ErrorCode::internal, "zstd compression failed");
        }
        out.resize(n);
        return out;
    }
    z_stream zs{};
    if (deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return fail(ErrorCode::internal, "gzip compression failed");
    }
    std::string out(deflateBound(&zs, data.size()) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        return fail(ErrorCode::internal, "gzip compression failed");
    }
    return out;
}

tl::expected<std::string, DecodeRefusal> decode_body(std::string_view data, Encoding e,
                                                     std::size_t max_output) {
    auto refuse = [](std::string_view code, std::string message) {
        return tl::unexpected(DecodeRefusal{code, std::move(message)});
    };
    auto too_large = [&] {
        return refuse(codes::too_large, "body too large after decompression (limit " +
                                            std::to_string(max_output) + " bytes)");
    };
    if (e == Encoding::identity) {
        if (data.size() > max_output) {
            return too_large();
        }
        return std::string(data);
    }
    std::string out;
    char buffer[65536];
    if (e == Encoding::zstd) {
        struct Free {
            void operator()(ZSTD_DStream* s) const noexcept { ZSTD_freeDStream(s); }
        };
        std::unique_ptr<ZSTD_DStream, Free> stream(ZSTD_createDStream());
        if (!stream) {
            return refuse(codes::internal, "zstd stream allocation failed");
        }
        ZSTD_initDStream(stream.get());
        ZSTD_inBuffer in{data.data(), data.size(), 0};
        size_t last = 1;
        while (in.pos < in.size) {
            ZSTD_outBuffer o{buffer, sizeof buffer, 0};
            last = ZSTD_decompressStream(stream.get(), &o, &in);
            if (ZSTD_isError(last)) {
                return refuse(codes::malformed, "malformed zstd body");
            }
            out.append(buffer, o.pos);
            if (out.size() > max_output) {
                return too_large();
            }
            if (o.pos == 0 && last == 0) {
                break;
            }
        }
        // Drain what is still buffered inside the decoder while the frame is unfinished. Once
        // `last` is 0 the frame is complete: another call would start a new frame and return
        // that frame's header size, which read as "truncated".
        while (last != 0) {
            ZSTD_outBuffer o{buffer, sizeof buffer, 0};
            last = ZSTD_decompressStream(stream.get(), &o, &in);
            if (ZSTD_isError(last)) {
                return refuse(codes::malformed, "malformed zstd body");
            }
            out.append(buffer, o.pos);
            if (out.size() > max_output) {
                return too_large();
            }
            if (o.pos < sizeof buffer) {
                break;
            }
        }
        if (last != 0) {
            return refuse(codes::malformed, "truncated zstd body");
        }
        return out;
    }
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        return refuse(codes::internal, "gzip stream allocation failed");
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = reinterpret_cast<Bytef*>(buffer);
        zs.avail_out = sizeof buffer;
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            return refuse(codes::malformed,
                          rc == Z_BUF_ERROR ? "truncated gzip body" : "malformed gzip body");
        }
        out.append(buffer, sizeof buffer - zs.avail_out);
        if (out.size() > max_output) {
            inflateEnd(&zs);
            return too_large();
        }
    }
    inflateEnd(&zs);
    return out;
}

Result<std::string> decompress(std::string_view data, Encoding e, std::size_t max_output) {
    auto plain = decode_body(data, e, max_output);
    if (!plain) {
        return fail(plain.error().code == codes::internal ? ErrorCode::internal
                                                          : ErrorCode::invalid_input,
                    std::move(plain.error().message));
    }
    return std::move(*plain);
}

void SetDigest::add(const storage::Event& e) {
    std::string line = e.device_id + "\n" + std::to_string(e.seq) + "\n" + hlc_hex(e.hlc) + "\n" +
                       e.entity_type + "\n" + e.entity_id + "\n" + e.op + "\n" + e.payload + "\n" +
                       std::to_string(e.schema_version);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(line.data()), line.size());
    for (size_t i = 0; i < sizeof m_xor; ++i) {
        m_xor[i] ^= digest[i];
    }
    ++m_count;
}

std::string SetDigest::hex() const {
    std::string out(sizeof m_xor * 2, '0');
    sodium_bin2hex(out.data(), out.size() + 1, m_xor, sizeof m_xor);
    return out;
}

} // namespace caravan::sync
