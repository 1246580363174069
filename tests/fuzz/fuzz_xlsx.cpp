// The XLSX reader (`caravan import file.xlsx`) must answer any bytes with rows or with an
// invalid_input error naming the file — never a crash, an exception, a hang or unbounded
// memory (the limits below are small so that the fuzzer finds where they are checked).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "caravan/client/xlsx_reader.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

void require(bool condition) {
    if (!condition) {
        std::abort(); // the fuzzer reports it with the input that caused it
    }
}

void require_named(const Error& e) {
    require(e.code == ErrorCode::invalid_input || e.code == ErrorCode::internal);
    require(e.message.find("fuzz.xlsx") != std::string::npos ||
            e.code == ErrorCode::internal);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    XlsxLimits limits;
    limits.max_entries = 64;
    limits.max_part_bytes = 1 << 20;
    limits.max_total_bytes = 4 << 20;
    limits.max_shared_strings = 10000;
    auto reader = XlsxReader::open_memory(bytes, "fuzz.xlsx", limits);
    if (!reader) {
        require_named(reader.error());
        return 0;
    }
    require(!reader->sheet_names().empty());
    for (std::size_t s = 0; s < reader->sheet_names().size() && s < 4; ++s) {
        if (auto ok = reader->select_sheet(s); !ok) {
            require_named(ok.error());
            continue;
        }
        XlsxRow row;
        std::int64_t last = 0;
        for (int n = 0; n < 100000; ++n) {
            auto more = reader->next_row(row);
            if (!more) {
                require_named(more.error());
                break;
            }
            if (!*more) {
                break;
            }
            require(row.number > last); // rows come in order, each once
            last = row.number;
            require(!row.cells.empty() && row.cells.size() <= limits.max_columns);
        }
    }
    return 0;
}
