#pragma once
// The text index of consultations: an FTS5 trigram index (table `consultation_text`) over the
// question and advice of the `consultations` projection, kept by triggers on that table. A
// device's database has it (the app's list search, Engine::list_consultations) and so has the
// server's (server.db, and each PostgreSQL cache file: the record browser's word search,
// client::exports::find_records). It only narrows a text search: every row it names is still
// checked by the search itself, so a row the index names wrongly is never shown, and a search
// that cannot use it (text shorter than three letters, an index that is missing) reads the
// rows instead.
//
// Why trigrams: a search finds any part of a word ("жер" in "жерін"), as the scan it speeds up
// does, in kk, ru and en alike; FTS5's case folding covers every letter the engine's
// fold_case() folds (ASCII, Cyrillic and the Kazakh letters), so the index finds at least
// every row the scan would.
//
// The index holds row ids of `consultations`. SQLite keeps a table's row ids except through
// VACUUM, which this program never runs; `check` compares the index with the table and
// client::rebuild_projections rebuilds it.

#include <optional>
#include <string>
#include <vector>

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"

namespace caravan::client::search_index {

// The migration of component "search": the index, its triggers, and the index built over the
// consultations already there (a database from before the index).
[[nodiscard]] Result<void> install(storage::Database& db);

// Drops the index's triggers (before a rebuild of the projections: client::rebuild_projections
// in visit_totals.hpp), and builds the index once over the consultations with its triggers
// again (after it): right even when the index had drifted from the table, or was missing.
// Inside the caller's transaction.
[[nodiscard]] Result<void> drop_triggers(storage::Database& db);
[[nodiscard]] Result<void> rebuild(storage::Database& db);

// Whether the file has the index (one from before it has not, until install or a rebuild).
[[nodiscard]] Result<bool> present(storage::Database& db);

// Whether the index holds exactly the text of every consultation (check() counts the index
// among the projections it compares); false when there is no index.
[[nodiscard]] Result<bool> matches_table(storage::Database& db);

// The FTS5 query that finds `text` (already folded) as a substring: one phrase, quoted.
// Empty when the index cannot find it (fewer than three letters).
[[nodiscard]] std::string phrase_query(std::string_view text);

// Every spelling of `folded` (a fold_case() result) that fold_case() folds to it: "жа" gives
// "жа", "жА", "Жа", "ЖА". Finding one of them in a text finds the word without folding the text.
[[nodiscard]] std::vector<std::string> spellings(std::string_view folded);

// The consultations a text search must look at: `sql` is a subquery naming their row ids
// (used as `c.rowid IN (…)`), with its values.
struct Candidates {
    std::string sql;
    std::vector<std::string> params;
};

// The candidates of a search for `needle` (folded, spaces normalized): the consultations whose
// question or advice may hold it and those of the villages whose name holds it. Three letters
// or more are looked up in the index; one or two (too short for trigrams) in each row's text,
// read lean in storage order. nullopt when more than 2,000 consultations may hold it (reading
// the rows in the list's order finds a page of them soon) or the file has no index.
[[nodiscard]] Result<std::optional<Candidates>> candidates(storage::Database& db,
                                                           const std::string& needle);

} // namespace caravan::client::search_index
