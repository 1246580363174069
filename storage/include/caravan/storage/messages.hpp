#pragma once
// The messages of storage's own errors (see message.hpp). Paths, ids, schema component names
// and SQLite's own detail text are arguments and stay as they are.

#include <span>

#include "caravan/storage/message.hpp"

namespace caravan::storage::msg {

#define X(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("storage.", name, en, ru, kk)
#include "caravan/storage/messages.inc"
#undef X

// Every message above, for tests.
[[nodiscard]] std::span<const Message* const> catalog() noexcept;

} // namespace caravan::storage::msg
