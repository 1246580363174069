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
// The same into `out` (cleared first), reusing its memory: for a loop over many texts.
void fold_case(std::string_view text, std::string& out);
// Number of code points (for length limits stated in characters).
[[nodiscard]] std::size_t utf8_length(std::string_view text);

// True for a code point that a stored text never holds, because a terminal would act on it or
// it can make text display as something else: C0 controls except TAB, LF and CR, DEL, C1
// controls (U+0080-U+009F) and the bidirectional embedding, override and isolate controls
// (U+202A-U+202E, U+2066-U+2069). TAB, LF and CR are judged by the caller (a name has none, a
// note keeps TAB and LF).
[[nodiscard]] bool is_unsafe_control(char32_t cp) noexcept;
// True when `text` holds no character that is_unsafe_control() names, and no CR unless
// `allow_cr`. Bytes that are not UTF-8 are not judged here (is_valid_utf8 does).
[[nodiscard]] bool is_safe_text(std::string_view text, bool allow_cr = false) noexcept;
// `text` for printing on a terminal: every character is_unsafe_control() names, CR, and (unless
// `keep_lines`) TAB and LF are written as a visible escape `\uXXXX`, a byte that is not UTF-8
// as `\xNN`. Everything else passes unchanged; the escapes are also valid inside a JSON string.
[[nodiscard]] std::string escape_controls(std::string_view text, bool keep_lines = false);

} // namespace caravan::client
