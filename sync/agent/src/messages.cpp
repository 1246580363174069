#include "caravan/sync/agent/messages.hpp"

namespace caravan::sync::agent::msg {

std::span<const Message* const> catalog() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("agent.", name, en, ru, kk)
#include "caravan/sync/agent/messages.inc"
#undef X
    };
    return k_all;
}

} // namespace caravan::sync::agent::msg
