#include "messages.hpp"

namespace caravan::cli::msg {

std::span<const Message* const> catalog() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("cli.", name, en, ru, kk)
#include "messages.inc"
#undef X
    };
    return k_all;
}

} // namespace caravan::cli::msg
