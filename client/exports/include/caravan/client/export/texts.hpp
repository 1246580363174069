#pragma once
// The exports' catalogs (see caravan/storage/message.hpp): the sentences of the reports'
// data-quality warnings, and the terms that head reports, columns and sheets, in English,
// Russian and Kazakh. The entries are in client/exports/src/sentences.inc and terms.inc; these
// lists are for the catalog tests.

#include <span>

#include "caravan/storage/message.hpp"

namespace caravan::client::exports::texts {

// Every sentence: Kazakh, Russian and English all differ, placeholders as in English.
[[nodiscard]] std::span<const Message* const> sentences() noexcept;
// Every term. A term may be one word in Kazakh and Russian ("код", "журнал").
[[nodiscard]] std::span<const Message* const> terms() noexcept;

} // namespace caravan::client::exports::texts
