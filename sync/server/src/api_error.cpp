#include "caravan/sync/server/api_error.hpp"

#include "caravan/sync/protocol.hpp"

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
        {codes::unavailable, 503},       {codes::device_id_taken, 409}, {codes::timeout, 408},
    };
    for (const Entry& e : table) {
        if (e.code == code) {
            return e.status;
        }
    }
    return 500;
}

nlohmann::json ApiError::body() const {
    nlohmann::json j = error_body(code, message);
    if (extra.is_object()) {
        for (auto it = extra.begin(); it != extra.end(); ++it) {
            j[it.key()] = it.value();
        }
    }
    return j;
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
