#pragma once
// The exports' sentences and terms as constants (entries in sentences.inc and terms.inc).

#include <string_view>

#include "caravan/client/export/texts.hpp"

namespace caravan::client::exports::texts {

#define X(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("exports.", name, en, ru, kk)
#include "sentences.inc"
#undef X
#define T(name, key, en, ru, kk) CARAVAN_DECLARE_MESSAGE("exports.", name, en, ru, kk)
#include "terms.inc"
#undef T

// The term a report names by `key` (an indicator code, "table:gender", "rec:photos"); nullptr
// for a key no term has.
[[nodiscard]] const Message* find_term(std::string_view key) noexcept;

} // namespace caravan::client::exports::texts
