#pragma once
// Who wrote a value and when, from its version string ("<16 hex clock digits>@<device id>",
// version_of in projector.hpp), for showing to a person: the lawyer's name and a time, not a
// clock value and a device id.

#include <optional>
#include <string>
#include <string_view>

namespace caravan::client {

struct Authorship {
    std::string device_id;
    std::string time_utc; // ISO 8601 of the clock's wall time
};

// nullopt when `version` is not a version string.
[[nodiscard]] std::optional<Authorship> authorship(std::string_view version);

} // namespace caravan::client
