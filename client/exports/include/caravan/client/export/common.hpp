#pragma once
// Coordinator exports: the vocabulary shared by the journal and the reports — output formats and
// the scope (region, date range) of an export.
//
// The export library lives in client/ (folder export/, namespace caravan::client::exports:
// `export` is a C++ keyword). Every export reads the projection tables of a device or
// coordinator database through a storage::Database& (a device's: Engine::read_view()),
// so the CLI and the server call the same functions.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/storage/database.hpp"

namespace caravan::client::exports {

enum class Format { text, csv, json, xlsx };

// "text", "csv", "json", "xlsx" (case-insensitive); invalid_input naming the allowed values.
[[nodiscard]] Result<Format> parse_format(std::string_view text);
[[nodiscard]] std::string_view to_string(Format format);
// The media type a download in `format` is sent as ("text/csv; charset=utf-8", ...).
[[nodiscard]] std::string_view media_type(Format format);
// The format a file name implies by its extension: .csv, .json, .xlsx, .txt (any case).
[[nodiscard]] std::optional<Format> format_for_path(const std::filesystem::path& path);

// The format of an export: `requested` when given, else the one `output`'s extension implies,
// else `fallback`. invalid_input when `output` has an extension that implies no format and none
// was requested, and when XLSX is asked for without an output file (it is binary).
[[nodiscard]] Result<Format> choose_format(const std::optional<std::string>& requested,
                                           const std::optional<std::filesystem::path>& output,
                                           Format fallback);

// What an export covers. Dates compare with the visit date, both bounds inclusive.
struct Scope {
    std::optional<std::string> region; // all regions when absent
    std::optional<std::string> from;   // YYYY-MM-DD
    std::optional<std::string> to;     // YYYY-MM-DD
};

// Validates a scope against `db`: the region is replaced by the canonical spelling records use
// (not_found listing the known regions when no record has it); dates must be calendar dates
// (invalid_input) and from <= to (invalid_input).
[[nodiscard]] Result<Scope> resolve_scope(storage::Database& db, const Scope& scope);

// The canonical spelling of a region named by villages or devices, for any case or spacing.
[[nodiscard]] Result<std::string> resolve_region(storage::Database& db, std::string_view ref);

// Every spelling villages use for `region` (compared ignoring case and runs of spaces, as
// resolve_region does), as a JSON array of strings for `IN (SELECT value FROM json_each(?))`;
// nullopt for all regions. Two devices that spelt one region two ways still make one region,
// so that all regions = the sum of the regions (docs/exports.md).
[[nodiscard]] Result<std::optional<std::string>>
region_spellings(storage::Database& db, const std::optional<std::string>& region);

} // namespace caravan::client::exports
