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

Result<Credentials> credentials(const json& j) {
    if (!j.is_object()) {
        return malformed("the body must be a JSON object");
    }
    auto device_id = string(j, "device_id");
    auto token = string(j, "token");
    auto role = string(j, "role");
    auto regions = strings(j, "regions");
    for (const Error* e :
         {device_id ? nullptr : &device_id.error(), token ? nullptr : &token.error(),
          role ? nullptr : &role.error(), regions ? nullptr : &regions.error()}) {
        if (e) {
            return tl::unexpected(*e);
        }
    }
    return Credentials{std::move(*device_id), std::move(*token), std::move(*role),
                       std::move(*regions)};
}

} // namespace caravan::sync::fields
