// The protocol decoder must refuse any body cleanly: compressed or not, any shape.
#include <cstdint>
#include <string_view>

#include "caravan/sync/protocol.hpp"

using namespace caravan::sync;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    // First byte picks the framing, the rest is the body.
    std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string text;
    switch (data[0] % 3) {
    case 0: text = std::string(body); break;
    case 1: {
        auto out = decompress(body, Encoding::zstd, 1 << 20);
        if (!out) {
            return 0;
        }
        text = std::move(*out);
        break;
    }
    default: {
        auto out = decompress(body, Encoding::gzip, 1 << 20);
        if (!out) {
            return 0;
        }
        text = std::move(*out);
        break;
    }
    }
    auto json = parse_json_limited(text);
    if (!json) {
        return 0;
    }
    if (auto push = push_request_from_json(*json)) {
        // What decodes must encode and decode back to the same events.
        auto again = push_request_from_json(to_json(*push));
        if (!again || again->events.size() != push->events.size()) {
            __builtin_trap();
        }
        for (size_t i = 0; i < push->events.size(); ++i) {
            if (!(again->events[i] == push->events[i])) {
                __builtin_trap();
            }
        }
    }
    (void)pull_response_from_json(*json);
    (void)push_response_from_json(*json);
    return 0;
}
