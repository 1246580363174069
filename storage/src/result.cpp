#include "caravan/storage/result.hpp"

namespace caravan {

std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
    case ErrorCode::invalid_input: return "invalid_input";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::ambiguous: return "ambiguous";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::not_initialized: return "not_initialized";
    case ErrorCode::busy: return "busy";
    case ErrorCode::corrupt: return "corrupt";
    case ErrorCode::storage_full: return "storage_full";
    case ErrorCode::io: return "io";
    case ErrorCode::offline: return "offline";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::auth: return "auth";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::server: return "server";
    case ErrorCode::protocol: return "protocol";
    case ErrorCode::upgrade_required: return "upgrade_required";
    case ErrorCode::internal: return "internal";
    }
    return "internal";
}

} // namespace caravan
