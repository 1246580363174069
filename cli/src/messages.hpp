#pragma once
// The CLI's own error messages in English, Russian and Kazakh (see
// caravan/storage/message.hpp). The entries are in messages.inc.

#include <span>

#include "caravan/storage/result.hpp"

namespace caravan::cli::msg {

#define X(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("cli.", name, en, ru, kk)
#include "messages.inc"
#undef X

// Every message above, for tests.
[[nodiscard]] std::span<const Message* const> catalog() noexcept;

} // namespace caravan::cli::msg
