#include "caravan/ui/messages.hpp"

namespace caravan::ui::msg {

std::span<const Message* const> catalog() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("ui.", name, en, ru, kk)
#include "caravan/ui/messages.inc"
#undef X
    };
    return k_all;
}

} // namespace caravan::ui::msg
