#pragma once
// Reads the cells of an XLSX workbook, row by row, for `caravan import` (see import.hpp).
// The zip container is read with libzip and the XML parts with expat (docs/decisions/
// 0003-xlsx-import-libraries.md); neither library's types appear here.
//
// Contract:
// - Bounded: before a part is read its declared uncompressed size is checked against
//   XlsxLimits::max_part_bytes, and every byte read counts against max_total_bytes (libzip
//   stops at the declared size and checks the CRC); an archive with more than max_entries
//   entries is refused before anything is read. XML with a DOCTYPE (entity expansion) is
//   refused. Cells past column max_columns are refused, and so is a workbook with more
//   than max_shared_strings shared strings.
// - A sheet is streamed: only the shared strings and the rows not yet taken are in memory.
// - Cells: shared and inline strings (rich text runs joined, phonetic runs dropped), numbers
//   (spelled without a trailing ".0" when whole; XlsxCell::number says the cell was numeric,
//   e.g. a date stored as a serial day number), booleans as "true"/"false", formula results
//   as their cached value. Rows without any value are not returned.
// - Errors (ErrorCode::invalid_input) name the file and the part, never a cell's content.
//   open() fails with not_found/io when the file cannot be read.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::client {

struct XlsxLimits {
    std::uint64_t max_entries = 10'000;             // entries in the zip archive
    std::uint64_t max_part_bytes = 256ull << 20;    // uncompressed size of one part read
    std::uint64_t max_total_bytes = 512ull << 20;   // uncompressed bytes read in all
    std::uint32_t max_columns = 256;                // a cell with a value further right: refused
    std::uint64_t max_shared_strings = 5'000'000;   // entries of xl/sharedStrings.xml
};

struct XlsxCell {
    std::string text;
    bool number = false; // a numeric cell; `text` is the number spelled out
};

struct XlsxRow {
    std::int64_t number = 0;      // 1-based, as the spreadsheet shows it
    std::vector<XlsxCell> cells;  // column A first; cells without a value are empty
};

class XlsxReader {
  public:
    [[nodiscard]] static Result<XlsxReader> open(const std::filesystem::path& file,
                                                 const XlsxLimits& limits = {});
    // Reads a workbook held in memory (`bytes` must outlive the reader); for the fuzzer.
    [[nodiscard]] static Result<XlsxReader> open_memory(std::string_view bytes,
                                                        std::string display_name,
                                                        const XlsxLimits& limits = {});
    XlsxReader(XlsxReader&&) noexcept;
    XlsxReader& operator=(XlsxReader&&) noexcept;
    ~XlsxReader();

    // The worksheets in workbook order (chart sheets and the like are left out).
    [[nodiscard]] const std::vector<std::string>& sheet_names() const;
    // Starts reading sheet `index` from its first row (a sheet may be selected again).
    [[nodiscard]] Result<void> select_sheet(std::size_t index);
    // The next row holding a value: true, or false at the end of the sheet.
    [[nodiscard]] Result<bool> next_row(XlsxRow& row);

    struct Impl; // the implementation (public only for its C callbacks)

  private:
    explicit XlsxReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// The date of an Excel serial day number (1900 date system, 60 = the phantom 1900-02-29):
// YYYY-MM-DD, or empty when `serial` is not a whole day between 1900 and 9999.
[[nodiscard]] std::string excel_serial_to_date(double serial);

} // namespace caravan::client
