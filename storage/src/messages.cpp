#include "caravan/storage/messages.hpp"

namespace caravan::storage::msg {

std::span<const Message* const> catalog() noexcept {
#define CARAVAN_STORAGE_LIST(name, en, ru, kk) CARAVAN_LIST_MESSAGE("storage.", name, en, ru, kk)
    static constexpr const Message* k_all[] = {CARAVAN_STORAGE_MESSAGES(CARAVAN_STORAGE_LIST)};
#undef CARAVAN_STORAGE_LIST
    return k_all;
}

} // namespace caravan::storage::msg
