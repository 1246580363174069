#include "caravan/client/authorship.hpp"

#include "caravan/client/hlc.hpp"

namespace caravan::client {

std::optional<Authorship> authorship(std::string_view version) {
    const auto at = version.find('@');
    if (at == std::string_view::npos || at + 1 >= version.size()) {
        return std::nullopt;
    }
    const auto clock = Hlc::from_hex(version.substr(0, at));
    if (!clock) {
        return std::nullopt;
    }
    return Authorship{std::string(version.substr(at + 1)), clock->to_iso()};
}

} // namespace caravan::client
