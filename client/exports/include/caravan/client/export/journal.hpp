#pragma once
// The consultation journal export (кеңес беру журналы): one row per consultation, numbered,
// with the columns of journal.hpp in their order, so `caravan import` reads an export back.
//
// Contract:
// - Rows are the consultations visible now: deleted ones are absent, edited ones show their
//   current values. Order: region, visit date, consultation id (stable across devices and
//   across the order in which events were applied).
// - Rows stream from one SQLite cursor to the output; memory does not depend on the number of
//   rows (XLSX uses libxlsxwriter's constant-memory mode). The reads run on one snapshot.
// - Formats (docs/exports.md has samples):
//   csv  — UTF-8 with BOM, CRLF, RFC 4180 quoting; headers and enumeration values as labels in
//          the request's language, booleans as yes/no words, topics joined by "; ".
//   json — one object {"format":"caravan-journal","version":1,...,"rows":[...],"count":N};
//          row keys are column codes, enumeration values are codes, with their labels in the
//          request's language under "labels". "count" comes last: a reader that does not find
//          it knows the file was cut short.
//   xlsx — one sheet per region (region absent) or one sheet (region given), real date cells,
//          frozen header row, autofilter; numbering restarts on every sheet.
//   text — refused (invalid_input).
// - On any error export_journal leaves no file (and an older file of that name untouched);
//   write_journal leaves in the stream whatever it wrote before the error. The request (region,
//   dates, format) is checked before anything is written.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "caravan/client/domain.hpp"
#include "caravan/client/export/common.hpp"

namespace caravan::client::exports {

struct JournalRequest {
    Scope scope; // region absent: every region
    Lang lang = Lang::en;
};

// Told the number of rows written so far, after each row (may be empty).
using RowProgress = std::function<void(std::int64_t rows)>;

struct JournalSummary {
    std::int64_t rows = 0;
    std::vector<std::string> sheets; // XLSX sheet names, in order
};

// Writes to `out` (XLSX is built in a temporary file and then copied).
[[nodiscard]] Result<JournalSummary> write_journal(storage::Database& db,
                                                   const JournalRequest& request, Format format,
                                                   std::ostream& out,
                                                   const RowProgress& progress = {});
// Writes `file` atomically (see atomic_file.hpp).
[[nodiscard]] Result<JournalSummary> export_journal(storage::Database& db,
                                                    const JournalRequest& request, Format format,
                                                    const std::filesystem::path& file,
                                                    const RowProgress& progress = {});

} // namespace caravan::client::exports
