#pragma once
// UTF-8 text rules used by validation and name lookups.

#include <string>
#include <string_view>

namespace caravan::client {

// Strict UTF-8: rejects overlong forms, surrogates, code points above U+10FFFF and NUL bytes.
[[nodiscard]] bool is_valid_utf8(std::string_view text);
// Trims ASCII/Unicode spaces at both ends and folds inner runs of whitespace to one space.
[[nodiscard]] std::string normalize_space(std::string_view text);
// Lower-cases ASCII, Cyrillic (Russian) and the Kazakh letters (Ә Ғ Қ Ң Ө Ұ Ү Һ І), so that
// names compare the way people expect; other characters pass unchanged.
[[nodiscard]] std::string fold_case(std::string_view text);
// Number of code points (for length limits stated in characters).
[[nodiscard]] std::size_t utf8_length(std::string_view text);

} // namespace caravan::client
