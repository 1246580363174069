#pragma once
// Checks a message catalog (caravan/storage/message.hpp): every entry has English, Russian and
// Kazakh text with the same placeholders, Russian and Kazakh are translations (not copies of
// the English or of each other), and ids are unique across every catalog checked together.

#include <catch2/catch.hpp>

#include <set>
#include <span>
#include <string>
#include <string_view>

#include "caravan/storage/message.hpp"

namespace caravan::test {

// The placeholders `{N}` of a template, as a sorted multiset of N.
inline std::multiset<int> placeholders(std::string_view text) {
    std::multiset<int> found;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '{') {
            continue;
        }
        std::size_t k = i + 1;
        int n = 0;
        while (k < text.size() && text[k] >= '0' && text[k] <= '9') {
            n = n * 10 + (text[k] - '0');
            ++k;
        }
        if (k > i + 1 && k < text.size() && text[k] == '}') {
            found.insert(n);
        }
    }
    return found;
}

inline bool has_cyrillic(std::string_view text) {
    // UTF-8 lead bytes 0xD0..0xD4 cover U+0400..U+052F: Russian and Kazakh letters.
    for (unsigned char c : text) {
        if (c >= 0xD0 && c <= 0xD4) {
            return true;
        }
    }
    return false;
}

inline void check_catalog(std::span<const Message* const> catalog, std::set<std::string>& ids) {
    REQUIRE_FALSE(catalog.empty());
    for (const Message* m : catalog) {
        INFO("message " << m->id << ": en \"" << m->en << "\"\n ru \"" << m->ru << "\"\n kk \""
                        << m->kk << "\"");
        CHECK_FALSE(m->id.empty());
        CHECK(ids.insert(std::string(m->id)).second); // unique across catalogs
        CHECK_FALSE(m->en.empty());
        CHECK_FALSE(m->ru.empty());
        CHECK_FALSE(m->kk.empty());
        CHECK(m->ru != m->en);
        CHECK(m->kk != m->en);
        CHECK(m->kk != m->ru);
        CHECK(has_cyrillic(m->ru));
        CHECK(has_cyrillic(m->kk));
        const auto wanted = placeholders(m->en);
        CHECK(placeholders(m->ru) == wanted);
        CHECK(placeholders(m->kk) == wanted);
        // Placeholders are numbered from 0 without gaps, each used once.
        int expected = 0;
        for (int n : wanted) {
            CHECK(n == expected++);
        }
    }
}

} // namespace caravan::test
