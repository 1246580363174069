#pragma once
// The sync agent's error messages in English, Russian and Kazakh (see
// caravan/storage/message.hpp): the errors `caravan enroll`, `caravan sync` and
// `caravan schedule` print. The server's wire messages stay English (protocol text).

#include <span>

#include "caravan/storage/result.hpp"

namespace caravan::sync::agent::msg {

#define X(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("agent.", name, en, ru, kk)
#include "caravan/sync/agent/messages.inc"
#undef X

// Every message above, for tests.
[[nodiscard]] std::span<const Message* const> catalog() noexcept;

} // namespace caravan::sync::agent::msg
