#include "caravan/sync/server/api_error.hpp"

#include <optional>

#include "caravan/sync/protocol/error_body.hpp"

namespace caravan::sync::server {

int http_status_for(std::string_view code) {
    struct Entry {
        std::string_view code;
        int status;
    };
    static constexpr Entry table[] = {
        {codes::malformed, 400},         {codes::unauthenticated, 401},
        {codes::device_revoked, 401},    {codes::device_rotated, 401},
        {codes::forbidden, 403},         {codes::invalid_code, 403},
        {codes::not_found, 404},         {codes::sequence_gap, 409},
        {codes::sequence_conflict, 409}, {codes::epoch_changed, 409},
        {codes::too_large, 413},         {codes::upgrade_required, 426},
        {codes::slow_down, 429},         {codes::internal, 500},
        {codes::unavailable, 503},       {codes::device_id_taken, 409},
        {codes::timeout, 408},
    };
    for (const Entry& e : table) {
        if (e.code == code) {
            return e.status;
        }
    }
    return 500;
}

nlohmann::json ApiError::body() const {
    ErrorBody wire;
    wire.code = code;
    wire.message = message;
    auto integer = [&](const char* key) -> std::optional<std::int64_t> {
        auto it = extra.find(key);
        return it != extra.end() && it->is_number_integer() ? std::optional(it->get<std::int64_t>())
                                                            : std::nullopt;
    };
    auto text = [&](const char* key) -> std::optional<std::string> {
        auto it = extra.find(key);
        return it != extra.end() && it->is_string() ? std::optional(it->get<std::string>())
                                                    : std::nullopt;
    };
    wire.acked_seq = integer("acked_seq");
    wire.seq = integer("seq");
    wire.epoch = text("epoch");
    wire.successor = text("successor");
    wire.retry_after = integer("retry_after");
    if (auto protocol = integer("protocol")) {
        wire.protocol = static_cast<int>(*protocol);
    }
    return to_json(wire);
}

ApiError api_error_from(const Error& error) {
    std::string detail = std::string(to_string(error.code)) + ": " + error.message;
    switch (error.code) {
    case ErrorCode::busy:
        return {std::string(codes::unavailable),
                "the server is busy; try again shortly",
                {{"retry_after", 5}},
                std::move(detail)};
    case ErrorCode::storage_full:
        return {std::string(codes::unavailable),
                "the server's storage is full",
                {{"retry_after", 600}},
                std::move(detail)};
    default:
        return {std::string(codes::internal), "internal server error", nlohmann::json::object(),
                std::move(detail)};
    }
}

} // namespace caravan::sync::server
