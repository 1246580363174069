#pragma once
// Stored changes as a person reads them (`conflicts`, `consult history`): field names and
// values in the context's language, and who wrote a value and when as the lawyer's name and
// the local time instead of a clock value and a device id (client/authorship.hpp,
// client/iso_time.hpp local_minute).

#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common.hpp"

namespace caravan::cli {

// Device id -> lawyer's name (Engine::lawyers()).
using Lawyers = std::map<std::string, std::string>;

// "консультация", "выезд", …; an unknown record type as it is stored.
[[nodiscard]] std::string record_word(Context& ctx, std::string_view entity_type);
// "пол", "темы", …; a field this program does not know as it is stored.
[[nodiscard]] std::string field_word(Context& ctx, std::string_view field);
// A stored value: enumeration codes as labels, booleans as yes/no, ids shortened, text as
// shown(); anything else as compact JSON.
[[nodiscard]] std::string value_text(Context& ctx, std::string_view field,
                                     const nlohmann::json& value);
// "Арнат Ұлтанбаев, 2024-05-14 15:31" for a version string; a device not known here is
// "device 1234abcd"; a string that is not a version comes back as it is.
[[nodiscard]] std::string who_when(Context& ctx, const Lawyers& lawyers, std::string_view version);
// The lawyer's name of `device_id`, or "device 1234abcd" when it is not known here.
[[nodiscard]] std::string who(Context& ctx, const Lawyers& lawyers, const std::string& device_id);

} // namespace caravan::cli
