#include "caravan/client/projection.hpp"

#include <nlohmann/json.hpp>

namespace caravan::client {

void decode_text_list(std::string_view stored, std::vector<std::string>& out) {
    out.clear();
    // Codes hold no quotes or escapes, so the common case is split by hand (a full JSON parse
    // per row dominated the journal export's time); anything else goes through the parser.
    if (stored.find('\\') == std::string_view::npos && stored.size() >= 2 &&
        stored.front() == '[' && stored.back() == ']') {
        std::size_t pos = 1;
        for (;;) {
            std::size_t open = stored.find('"', pos);
            if (open == std::string_view::npos) {
                return;
            }
            std::size_t close = stored.find('"', open + 1);
            if (close == std::string_view::npos) {
                break; // malformed: let the parser decide
            }
            out.emplace_back(stored.substr(open + 1, close - open - 1));
            pos = close + 1;
        }
        out.clear();
    }
    nlohmann::json items = nlohmann::json::parse(stored, nullptr, false);
    if (items.is_array()) {
        for (const auto& item : items) {
            if (item.is_string()) {
                out.push_back(item.get<std::string>());
            }
        }
    }
}

std::vector<std::string> decode_text_list(std::string_view stored) {
    std::vector<std::string> out;
    decode_text_list(stored, out);
    return out;
}

} // namespace caravan::client
