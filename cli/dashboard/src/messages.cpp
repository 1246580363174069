#include "caravan/dashboard/messages.hpp"

namespace caravan::dashboard::msg {

std::span<const Message* const> catalog() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("dashboard.", name, en, ru, kk)
#include "caravan/dashboard/messages.inc"
#undef X
    };
    return k_all;
}

} // namespace caravan::dashboard::msg
