#pragma once
// The form of a bearer token the server issues (docs/protocol.md 5): 64 hex digits.

#include <algorithm>
#include <cctype>
#include <string_view>

namespace caravan::sync::agent {

[[nodiscard]] inline bool token_well_formed(std::string_view token) {
    return token.size() == 64 && std::all_of(token.begin(), token.end(), [](unsigned char c) {
               return std::isdigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
           });
}

} // namespace caravan::sync::agent
