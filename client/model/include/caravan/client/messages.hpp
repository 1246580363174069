#pragma once
// The client's error messages in English, Russian and Kazakh (see caravan/storage/message.hpp):
// validation, references, records, photos, import and exports. The entries are in
// messages.inc.

#include <string_view>

#include "caravan/client/domain.hpp"

#define CARAVAN_CATALOG_NAMESPACE caravan::client::msg
#define CARAVAN_CATALOG_PREFIX "client."
#define CARAVAN_CATALOG_ENTRIES "caravan/client/messages.inc"
#include "caravan/storage/catalog.inc"

namespace caravan::client::msg {

// A field name as a message argument: the catalog's word for it (`field_<name>`), rendered in
// the reader's language; a name the catalog does not know stays as it is (an option name or
// a technical key).
[[nodiscard]] MessageArg field(std::string_view name);

} // namespace caravan::client::msg

namespace caravan::client {

// The message language for a user's language choice.
[[nodiscard]] constexpr caravan::Language message_lang(Lang lang) noexcept {
    return lang == Lang::kk   ? caravan::Language::kk
           : lang == Lang::ru ? caravan::Language::ru
                              : caravan::Language::en;
}

// The error's message in the user's language (caravan::localize).
[[nodiscard]] inline std::string localize(const Error& error, Lang lang) {
    return caravan::localize(error, message_lang(lang));
}

} // namespace caravan::client
