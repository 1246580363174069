#include "caravan/client/export/csv.hpp"

#include <charconv>
#include <cstdio>

namespace caravan::client::exports {

void CsvWriter::byte_order_mark() {
    m_out << "\xEF\xBB\xBF";
}

void CsvWriter::separator() {
    if (m_row_started) {
        m_out.put(',');
    }
    m_row_started = true;
}

void CsvWriter::field(std::string_view text) {
    separator();
    if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
        m_out << text;
        return;
    }
    m_out.put('"');
    for (size_t start = 0;;) {
        size_t quote = text.find('"', start);
        if (quote == std::string_view::npos) {
            m_out << text.substr(start);
            break;
        }
        m_out << text.substr(start, quote + 1 - start) << '"';
        start = quote + 1;
    }
    m_out.put('"');
}

void CsvWriter::field(std::int64_t value) {
    separator();
    char buffer[24];
    auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    m_out.write(buffer, result.ptr - buffer);
}

void CsvWriter::field(double value, int decimals) {
    separator();
    char buffer[64];
    auto result =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, decimals);
    m_out.write(buffer, result.ptr - buffer);
}

void CsvWriter::end_row() {
    m_out << "\r\n";
    m_row_started = false;
}

} // namespace caravan::client::exports
