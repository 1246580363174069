#pragma once
// Translatable message templates. Every error a user can see is built from a `Message`: one
// sentence in English, Russian and Kazakh with positional placeholders `{0}`, `{1}`, ... filled
// with the error's arguments. Catalogs of messages live next to the code that raises them
// (storage/messages.hpp, client/messages.hpp, sync/agent's, cli's); a catalog lists its messages
// with an X-macro so that tests can check every entry.
//
// Languages are not domain knowledge, so they live here, at the bottom of the dependency graph.

#include <string_view>

namespace caravan {

enum class Language { kk, ru, en };

struct Message {
    std::string_view id; // stable, unique across catalogs: "client.village_not_found"
    std::string_view en;
    std::string_view ru;
    std::string_view kk;

    [[nodiscard]] constexpr std::string_view text(Language lang) const noexcept {
        return lang == Language::kk ? kk : lang == Language::ru ? ru : en;
    }
};

} // namespace caravan

// A catalog is a `messages.inc` file of `X(name, "en", "ru", "kk")` entries, included twice:
// with X as CARAVAN_DECLARE_MESSAGE (each entry becomes an `inline constexpr Message name`),
// and with X as CARAVAN_LIST_MESSAGE in its catalog() (a pointer to each), so that the list
// tests check is complete by construction. caravan/storage/catalog.inc does both for a catalog
// header in four lines; the exports' texts use the two macros directly.
#define CARAVAN_DECLARE_MESSAGE(prefix, name, en, ru, kk)                                        \
    inline constexpr ::caravan::Message name{prefix #name, en, ru, kk};
#define CARAVAN_LIST_MESSAGE(prefix, name, en, ru, kk) &name,
