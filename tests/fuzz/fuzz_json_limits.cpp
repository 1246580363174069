// parse_json_limited must hold its limits whatever the text: anything it accepts has at most
// Limits::max_json_values values and Limits::max_json_depth levels, and anything over them is
// refused before a DOM is built (which the memory limit of a fuzz run would catch).
//
// Input: byte 0 = how many times (x 1024) the rest is repeated inside one array, so that small
// inputs can reach the value limit: "[" rest "," rest "," ... "]". Byte 0 == 0: the rest alone.
#include <cstdint>
#include <string>
#include <string_view>

#include "caravan/sync/protocol.hpp"

using namespace caravan::sync;

namespace {

std::size_t count_values(const nlohmann::json& j, int depth, int& max_depth) {
    if (depth > max_depth) {
        max_depth = depth;
    }
    std::size_t n = 1;
    if (j.is_structured()) {
        for (const auto& child : j) {
            n += count_values(child, depth + 1, max_depth);
        }
    }
    return n;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    std::string_view unit(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t repeat = std::size_t(data[0]) * 1024;
    std::string text;
    if (repeat == 0) {
        text = std::string(unit);
    } else {
        if (unit.size() * repeat > Limits::max_body_bytes) {
            return 0;
        }
        text.reserve(unit.size() * repeat + repeat + 2);
        text += '[';
        for (std::size_t i = 0; i < repeat; ++i) {
            if (i > 0) {
                text += ',';
            }
            text += unit;
        }
        text += ']';
    }
    auto parsed = parse_json_limited(text);
    if (!parsed) {
        return 0;
    }
    int max_depth = 0;
    // A scalar root has depth 0; each enclosing array or object adds one level.
    std::size_t values = count_values(*parsed, 0, max_depth);
    if (values > Limits::max_json_values || max_depth > Limits::max_json_depth) {
        __builtin_trap();
    }
    return 0;
}
