#pragma once
// The consultation journal's column set (кеңес беру журналы). The journal export writes these
// columns; `caravan import` reads them back, so an export can be re-imported and a paper journal
// typed into a spreadsheet with these headers can be digitised.
//
// Headers are localized; on input a header is recognised in any of the three languages or as
// its code. Enumerated cells hold codes or labels in any language; `topics` holds several
// values separated by ";"; booleans are yes/no in any language, or true/false, 1/0.

#include <optional>
#include <span>
#include <string_view>

#include "caravan/client/domain.hpp"

namespace caravan::client {

struct JournalColumn {
    std::string_view code; // machine name: JSON key and CSV header code
    std::string_view kk;
    std::string_view ru;
    std::string_view en;
    [[nodiscard]] std::string_view header(Lang lang) const {
        return lang == Lang::kk ? kk : lang == Lang::ru ? ru : en;
    }
};

// In export order. `no` is the row number (ignored on import).
[[nodiscard]] std::span<const JournalColumn> journal_columns();
// The column whose code or header (any language, case-insensitive) is `name`; nullptr if none.
[[nodiscard]] const JournalColumn* find_journal_column(std::string_view name);

// Parses yes/no in any language, true/false, 1/0 (case-insensitive); nullopt otherwise.
[[nodiscard]] std::optional<bool> parse_yes_no(std::string_view text);

inline constexpr std::string_view k_topic_separator = "; ";

} // namespace caravan::client
