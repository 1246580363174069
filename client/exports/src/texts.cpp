#include "texts.hpp"

#include <utility>

namespace caravan::client::exports::texts {

std::span<const Message* const> sentences() noexcept {
    static constexpr const Message* k_all[] = {
#define X(name, en, ru, kk) CARAVAN_LIST_MESSAGE("exports.", name, en, ru, kk)
#include "sentences.inc"
#undef X
    };
    return k_all;
}

std::span<const Message* const> terms() noexcept {
    static constexpr const Message* k_all[] = {
#define T(name, key, en, ru, kk) CARAVAN_LIST_MESSAGE("exports.", name, en, ru, kk)
#include "terms.inc"
#undef T
    };
    return k_all;
}

const Message* find_term(std::string_view key) noexcept {
    static constexpr std::pair<std::string_view, const Message*> k_keys[] = {
#define T(name, key, en, ru, kk) {key, &name},
#include "terms.inc"
#undef T
    };
    for (const auto& [known, term] : k_keys) {
        if (known == key) {
            return term;
        }
    }
    return nullptr;
}

} // namespace caravan::client::exports::texts
