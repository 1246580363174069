#pragma once
// `caravan import`: reads a consultation journal (a typed-in paper journal or an earlier export)
// and records its rows as consultations. The format is specified in docs/import.md.
//
// Contract:
// - Formats: CSV (RFC 4180: quoted fields with embedded separators, quotes and line breaks;
//   optional UTF-8 BOM; CRLF or LF; comma, or semicolon when the header line has no comma) and
//   JSON Lines (one object per line, keys are column codes), a JSON document as
//   `caravan export journal --format json` writes it ({"rows":[{...}, ...]}: each row read like
//   a JSON line, its "labels" ignored; rows numbered by their place in "rows"), and XLSX (the
//   worksheets whose first rows name a required column, else the first; title rows above
//   the header are skipped; rows numbered as the sheet numbers them; numeric cells in the
//   date column read as Excel day numbers; read by XlsxReader within its limits, a damaged or
//   hostile workbook is an Error naming the file). Columns are journal_columns().
// - Every row is validated before anything is written. When any row is bad, the report lists
//   every problem (line, column, reason) and NOTHING is written. Otherwise all rows are written
//   in one transaction: all or nothing.
// - Each row's village is created when missing (in the row's region) and its visit, one per
//   (village, date, lawyer), is found or created. Created visits are closed and never become the
//   current visit.
// - A row's consultation gets the row's `id`, or an id derived from its content (and from how
//   many identical rows precede it in the file), so importing a file twice adds nothing: rows
//   whose consultation is already recorded here (even if deleted since) are counted as
//   "already present" and skipped.
// - Messages name the line and the column, never the content of a cell (it may be personal
//   data). Header names and village names may be quoted.
// - Memory: the file is streamed; what is kept per row is a compact record (enumeration codes as
//   small integers, the two free-text summaries).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/storage/result.hpp"

namespace caravan::client {

enum class ImportFormat { automatic, csv, jsonl, json, xlsx };

[[nodiscard]] std::string_view to_string(ImportFormat format);

// Where an import is: checking rows (total unknown: the file is streamed), or writing them
// (`total` is the number of rows to look up and write).
enum class ImportStage { checking, writing };

struct ImportOptions {
    bool dry_run = false;                          // validate and count; write nothing
    ImportFormat format = ImportFormat::automatic; // from the extension, else the content
    // Called after every row checked and every row written (may be empty). It must not throw
    // and must not touch the engine.
    std::function<void(ImportStage stage, std::int64_t done, std::int64_t total)> progress;
};

// One problem in the file. `line` is 1-based, the physical line where the CSV record (or the
// JSON line) starts; `column` is the column code, or "header", "row" or "file".
struct ImportIssue {
    std::int64_t line = 0;
    std::string column;
    std::string message; // English
    Error error = {};    // the same message with its catalog template, for other languages
    std::string sheet;   // XLSX: the worksheet (`line` is its row number); else empty
};

struct NewVillage {
    std::string name;
    std::string region;
};

struct ImportReport {
    ImportFormat format = ImportFormat::csv; // as detected
    bool dry_run = false;
    std::int64_t rows = 0;            // data rows read (blank lines not counted)
    std::int64_t imported = 0;        // consultations written (dry run: that would be written)
    std::int64_t already_present = 0; // rows skipped because their consultation exists
    std::int64_t villages_created = 0;
    std::int64_t visits_created = 0;
    std::vector<NewVillage> new_villages; // the villages created, in file order
    std::vector<ImportIssue> errors;      // non-empty: nothing was written
    [[nodiscard]] bool ok() const { return errors.empty(); }
};

// Imports `path` into `engine`. Returns an Error only for what is not a property of the rows
// (file unreadable, device not initialised, database failure); bad rows are reported in
// ImportReport::errors.
[[nodiscard]] Result<ImportReport> import_journal(Engine& engine, const std::filesystem::path& path,
                                                  const ImportOptions& options = {});

[[nodiscard]] nlohmann::json to_json(const ImportReport& report);
// "LINE: column: message" ("SHEET!ROW: column: message" for a worksheet)
[[nodiscard]] std::string to_string(const ImportIssue& issue);
// "3: header: …" in `lang`: the message and the words header, row and file translated.
[[nodiscard]] std::string to_string(const ImportIssue& issue, Lang lang);

} // namespace caravan::client
