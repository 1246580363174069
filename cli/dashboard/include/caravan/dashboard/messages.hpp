#pragma once
// The coordinator's dashboard's own words in English, Russian and Kazakh (see
// caravan/storage/message.hpp); the entries are in messages.inc.

#include <span>

#include "caravan/storage/result.hpp"

namespace caravan::dashboard::msg {

#define X(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("dashboard.", name, en, ru, kk)
#include "caravan/dashboard/messages.inc"
#undef X

// Every message above, for tests.
[[nodiscard]] std::span<const Message* const> catalog() noexcept;

} // namespace caravan::dashboard::msg
