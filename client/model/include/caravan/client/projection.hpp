#pragma once
// Reading the projection tables that the Projector (projector.hpp) writes: which rows are the
// records a user sees, and how a list column is stored. Every query of the engine and the
// exports uses these, so that a list, a lookup, a journal and a report agree on what exists.

#include <string>
#include <string_view>
#include <vector>

// The SQL condition for a *visible* record of a projection table: a row is a record a user
// sees (listed, found by id, exported, counted in reports) when
//   - its create has been applied (`_created` set): an update that arrives before its record's
//     create leaves a row that is not a record yet, and
//   - it is not deleted now (`deleted` false or never written): a delete hides it, an
//     undelete shows it again.
// Placement (a visit's village and region, the export's scope) is a separate condition each
// query adds. `prefix` is the table alias with its dot ("c.") or "" for an unaliased table; a
// string literal, so the condition joins the query's literal at compile time:
//     "SELECT id FROM visits v WHERE " CARAVAN_VISIBLE_SQL("v.") " ORDER BY v.date"
#define CARAVAN_VISIBLE_SQL(prefix)                                                                \
    prefix "_created IS NOT NULL AND NOT coalesce(" prefix "deleted, 0)"

namespace caravan::client {

// The items of a list column (FieldType::text_list: a consultation's topics), stored as a JSON
// array of codes, in stored order. Items that are not strings are skipped; text that is not a
// JSON array (NULL read as "") gives no items. `out` is cleared first.
void decode_text_list(std::string_view stored, std::vector<std::string>& out);
[[nodiscard]] std::vector<std::string> decode_text_list(std::string_view stored);

} // namespace caravan::client
