#include "caravan/client/text.hpp"

#include <cstdint>

namespace caravan::client {

namespace {

// Decodes one code point at `i`; returns false on malformed input.
bool decode(std::string_view s, size_t& i, char32_t& cp) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    size_t len;
    if (c < 0x80) {
        cp = c;
        len = 1;
    } else if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1f;
        len = 2;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0f;
        len = 3;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07;
        len = 4;
    } else {
        return false;
    }
    if (i + len > s.size()) {
        return false;
    }
    for (size_t k = 1; k < len; ++k) {
        unsigned char cc = byte(i + k);
        if ((cc & 0xc0) != 0x80) {
            return false;
        }
        cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr char32_t k_min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < k_min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return false;
    }
    i += len;
    return true;
}

// Walks `text` code point by code point: `point(cp, bytes)` for each valid one (`bytes` its
// UTF-8), `invalid(at)` at a byte that begins no valid sequence, after which the walk goes on at
// the next byte. Either returns false to stop the walk.
template <class Point, class Invalid>
void walk(std::string_view text, Point&& point, Invalid&& invalid) {
    size_t i = 0;
    char32_t cp;
    while (i < text.size()) {
        size_t start = i;
        if (!decode(text, i, cp)) {
            if (!invalid(start)) {
                return;
            }
            i = start + 1;
            continue;
        }
        if (!point(cp, text.substr(start, i - start))) {
            return;
        }
    }
}

bool is_space(char32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
           cp == 0xa0 || cp == 0x2007 || cp == 0x202f || cp == 0x3000 ||
           (cp >= 0x2000 && cp <= 0x200a);
}

char32_t lower(char32_t cp) {
    if (cp >= 'A' && cp <= 'Z') {
        return cp + 32;
    }
    if (cp >= 0x410 && cp <= 0x42f) {
        return cp + 0x20; // А..Я
    }
    if (cp >= 0x400 && cp <= 0x40f) {
        return cp + 0x50; // Ѐ..Џ, including Ё and І
    }
    switch (cp) {
    case 0x4d8: return 0x4d9; // Ә
    case 0x492: return 0x493; // Ғ
    case 0x49a: return 0x49b; // Қ
    case 0x4a2: return 0x4a3; // Ң
    case 0x4e8: return 0x4e9; // Ө
    case 0x4b0: return 0x4b1; // Ұ
    case 0x4ae: return 0x4af; // Ү
    case 0x4ba: return 0x4bb; // Һ
    default: return cp;
    }
}

} // namespace

bool is_valid_utf8(std::string_view text) {
    bool valid = true;
    walk(
        text, [&](char32_t cp, std::string_view) { return valid = cp != 0; },
        [&](size_t) { return valid = false; });
    return valid;
}

std::string normalize_space(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    bool valid = true;
    walk(
        text,
        [&](char32_t cp, std::string_view bytes) {
            if (is_space(cp)) {
                pending_space = !out.empty();
                return true;
            }
            if (pending_space) {
                out.push_back(' ');
                pending_space = false;
            }
            out.append(bytes);
            return true;
        },
        [&](size_t) { return valid = false; });
    return valid ? out : std::string(text); // not UTF-8: validation reports it
}

std::string fold_case(std::string_view text) {
    std::string out;
    fold_case(text, out);
    return out;
}

void fold_case(std::string_view text, std::string& out) {
    // Every letter lower() changes keeps its UTF-8 length (ASCII, and two-byte Cyrillic), so
    // the text is copied once and folded in place. A list search folds every consultation's
    // text: the two-byte letters (lead bytes D0-D3, U+0400-U+04FF) skip the general decoder.
    out.assign(text);
    size_t i = 0;
    while (i < out.size()) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (c < 0x80) {
            if (c >= 'A' && c <= 'Z') {
                out[i] = static_cast<char>(c + 32);
            }
            ++i;
            continue;
        }
        if (c >= 0xd0 && c <= 0xd3 && i + 1 < out.size() &&
            (static_cast<unsigned char>(out[i + 1]) & 0xc0) == 0x80) {
            const char32_t cp = (char32_t{c} & 0x1f) << 6 | (static_cast<unsigned char>(out[i + 1]) & 0x3f);
            if (const char32_t lc = lower(cp); lc != cp) {
                out[i] = static_cast<char>(0xc0 | (lc >> 6));
                out[i + 1] = static_cast<char>(0x80 | (lc & 0x3f));
            }
            i += 2;
            continue;
        }
        char32_t cp;
        size_t next = i;
        if (!decode(out, next, cp)) {
            return; // not UTF-8 from here: the rest stays as it was
        }
        i = next; // lower() changes no other code point
    }
}

std::size_t utf8_length(std::string_view text) {
    std::size_t n = 0;
    for (char c : text) {
        n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    }
    return n;
}

bool is_unsafe_control(char32_t cp) noexcept {
    return (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || (cp >= 0x7f && cp <= 0x9f) ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

bool is_safe_text(std::string_view text, bool allow_cr) noexcept {
    bool safe = true;
    walk(
        text,
        [&](char32_t cp, std::string_view) {
            return safe = !(is_unsafe_control(cp) || (cp == '\r' && !allow_cr));
        },
        [](size_t) { return true; }); // not UTF-8: another check reports it
    return safe;
}

std::string escape_controls(std::string_view text, bool keep_lines) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(text.size());
    walk(
        text,
        [&](char32_t cp, std::string_view bytes) {
            bool line = cp == '\n' || cp == '\t';
            if (is_unsafe_control(cp) || cp == '\r' || (line && !keep_lines)) {
                out += "\\u";
                for (int shift = 12; shift >= 0; shift -= 4) {
                    out.push_back(k_hex[(cp >> shift) & 0xf]);
                }
            } else {
                out.append(bytes);
            }
            return true;
        },
        [&](size_t at) {
            auto byte = static_cast<unsigned char>(text[at]);
            out += "\\x";
            out.push_back(k_hex[byte >> 4]);
            out.push_back(k_hex[byte & 0xf]);
            return true;
        });
    return out;
}

} // namespace caravan::client
