#pragma once
// RFC 4180 CSV for spreadsheets: UTF-8 with a byte-order mark (so Excel reads Cyrillic
// correctly), CRLF line ends, a field quoted when it holds a comma, a double quote, CR or LF,
// with inner quotes doubled. Text is written verbatim otherwise: cells starting with "=" are
// not escaped, so a journal re-imports unchanged (XLSX exports never turn text into formulas).
// Writes straight to the stream; never buffers rows. Check the stream's state for errors.

#include <cstdint>
#include <ostream>
#include <string_view>

namespace caravan::client::exports {

class CsvWriter {
  public:
    explicit CsvWriter(std::ostream& out) : m_out(out) {}
    void byte_order_mark();
    void field(std::string_view text);
    void field(std::int64_t value);
    // A decimal number with `decimals` digits after the point ("." whatever the locale).
    void field(double value, int decimals);
    void end_row();

  private:
    void separator();
    std::ostream& m_out;
    bool m_row_started = false;
};

} // namespace caravan::client::exports
