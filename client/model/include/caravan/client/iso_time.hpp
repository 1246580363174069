#pragma once
// ISO 8601 timestamps: the one formatter every layer above storage uses (history times, the
// oldest unsynced change, photo times, the server's stored times).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caravan::client {

// A calendar date and a wall-clock time, as read from a clock or a camera.
struct CivilTime {
    int year = 1970, month = 1, day = 1;
    int hour = 0, minute = 0, second = 0;
    std::optional<int> millis; // written as ".mmm" when set
    bool utc = false;          // written with the "Z" designator; otherwise no zone at all
};

// "YYYY-MM-DDTHH:MM:SS", then ".mmm" and "Z" as `time` says. Fields are written as given
// (a camera's leap second 60 stays 60).
[[nodiscard]] std::string iso_8601(const CivilTime& time);

// `unix_ms` (milliseconds since 1970-01-01 UTC, not negative) in UTC, with milliseconds:
// iso_8601(utc_time(ms)) is "2024-05-14T10:31:02.120Z".
[[nodiscard]] CivilTime utc_time(std::int64_t unix_ms);
// `unix_seconds` in this machine's time zone, whole seconds and no zone designator (the time
// a file's owner saw on the wall): "2024-05-14T15:31:02".
[[nodiscard]] CivilTime local_time(std::int64_t unix_seconds);

// A stored UTC time ("2024-05-14T10:31:02.120Z", as utc_time writes it and authorship() and
// history entries carry) as a person reads it on this machine: local time to the minute,
// "2024-05-14 15:31". Text that does not start with "YYYY-MM-DDTHH:MM" comes back unchanged.
[[nodiscard]] std::string local_minute(std::string_view iso_utc);

} // namespace caravan::client
