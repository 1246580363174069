#include "json_fields.hpp"

namespace caravan::sync::fields {

using nlohmann::json;

tl::unexpected<Error> malformed(std::string_view what) {
    return fail(ErrorCode::invalid_input, "malformed body: " + std::string(what));
}

Result<std::string> string(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return malformed("\"" + std::string(key) + "\" must be a string");
    }
    return it->get<std::string>();
}

Result<std::int64_t> integer(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
        return malformed("\"" + std::string(key) + "\" must be an integer");
    }
    return it->get<std::int64_t>();
}

Result<bool> boolean(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_boolean()) {
        return malformed("\"" + std::string(key) + "\" must be true or false");
    }
    return it->get<bool>();
}

Result<std::vector<std::string>> strings(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_array()) {
        return malformed("\"" + std::string(key) + "\" must be an array of strings");
    }
    std::vector<std::string> out;
    out.reserve(it->size());
    for (const json& item : *it) {
        if (!item.is_string()) {
            return malformed("\"" + std::string(key) + "\" must be an array of strings");
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

std::optional<std::string> optional_string(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) {
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<std::int64_t> optional_integer(const json& j, std::string_view key) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_number_integer()) {
        return std::nullopt;
    }
    return it->get<std::int64_t>();
}

std::optional<std::int64_t> parse_count(std::string_view text) {
    if (text.empty() || text.size() > 18) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

} // namespace caravan::sync::fields
