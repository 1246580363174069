#include "caravan/storage/messages.hpp"

namespace caravan::storage::msg {

std::span<const Message* const> catalog() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("storage.", name, en, ru, kk)
#include "caravan/storage/messages.inc"
#undef X
    };
    return k_all;
}

} // namespace caravan::storage::msg
