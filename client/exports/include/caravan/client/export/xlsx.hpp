#pragma once
// A streaming XLSX writer over libxlsxwriter in constant-memory mode: each row goes to a
// temporary file as soon as the next row starts, so memory does not grow with the number of
// rows. Rows of a sheet must be written in increasing order; sheets one after the other.
//
// Every sheet gets a bold header row that stays frozen while scrolling and carries an
// autofilter over the rows written. No libxlsxwriter type appears here.
//
// Temporary sheet data lives in the output file's directory (unlinked at once, so nothing is
// left behind); libxlsxwriter does not check those writes itself, this class does.
//
// Errors: create() and add_sheet() fail with internal for a library refusal (a bug); write
// calls return invalid_input when a value exceeds a spreadsheet limit (32,767 characters per
// cell, 1,048,576 rows per sheet); add_sheet() and close() return io when the temporary data
// or the file could not be written (disk full). A writer destroyed before close() writes
// nothing.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::client::exports {

enum class CellStyle {
    text,    // plain text
    wrap,    // long text: wrapped, aligned to the top
    integer, // a whole number
    decimal, // one digit after the decimal point
    date,    // a real date cell (see XlsxOptions::date_format)
    bold,    // headings and totals
};

struct XlsxOptions {
    // Excel number format of date cells, e.g. "dd.mm.yyyy" or "yyyy-mm-dd".
    std::string date_format = "yyyy-mm-dd";
};

struct XlsxColumn {
    std::string_view header;
    double width = 12; // in characters, as Excel counts them
    CellStyle style = CellStyle::text;
};

// `wanted` made a valid sheet name that is not in `used` (compared case-insensitively, as Excel
// does, Cyrillic and Kazakh letters included): the characters []:*?/\ become "_", apostrophes
// at either end are dropped, the name is cut to 31 UTF-16 units, "History" (reserved by Excel)
// and names already used get " (2)", " (3)", ... An empty name becomes `fallback`.
[[nodiscard]] std::string make_sheet_name(std::string_view wanted,
                                          const std::vector<std::string>& used,
                                          std::string_view fallback);

class XlsxWriter {
  public:
    [[nodiscard]] static Result<XlsxWriter> create(const std::filesystem::path& file,
                                                   const XlsxOptions& options = {});
    XlsxWriter(XlsxWriter&&) noexcept;
    XlsxWriter& operator=(XlsxWriter&&) = delete;
    ~XlsxWriter();

    // Starts a sheet named by make_sheet_name(wanted, <names so far>, fallback), writes the
    // header row (row 0) and sets the columns' widths and default styles. Finishes the
    // previous sheet (autofilter over its rows).
    [[nodiscard]] Result<void> add_sheet(std::string_view wanted, std::string_view fallback,
                                         std::span<const XlsxColumn> columns);
    [[nodiscard]] const std::vector<std::string>& sheet_names() const;

    // Cells of the current sheet; rows count from 1 (row 0 is the header).
    [[nodiscard]] Result<void> text(std::uint32_t row, std::uint16_t col, std::string_view value,
                                    CellStyle style = CellStyle::text);
    [[nodiscard]] Result<void> number(std::uint32_t row, std::uint16_t col, double value,
                                      CellStyle style = CellStyle::integer);
    // `iso` is YYYY-MM-DD; anything else is written as text (an unknown date stays visible).
    [[nodiscard]] Result<void> date(std::uint32_t row, std::uint16_t col, std::string_view iso);

    // Finishes the last sheet and writes the file.
    [[nodiscard]] Result<void> close();

  private:
    struct Impl;
    explicit XlsxWriter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace caravan::client::exports
