#pragma once
// Reading the projection tables that the Projector (projector.hpp) writes: how a list column
// is stored.

#include <string>
#include <string_view>
#include <vector>

namespace caravan::client {

// The items of a list column (FieldType::text_list: a consultation's topics), stored as a JSON
// array of codes, in stored order. Items that are not strings are skipped; text that is not a
// JSON array (NULL read as "") gives no items. `out` is cleared first.
void decode_text_list(std::string_view stored, std::vector<std::string>& out);
[[nodiscard]] std::vector<std::string> decode_text_list(std::string_view stored);

} // namespace caravan::client
