#include "caravan/client/iso_time.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace caravan::client {

std::string iso_8601(const CivilTime& t) {
    char buf[128];
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", t.year, t.month, t.day,
                          t.hour, t.minute, t.second);
    std::string out(buf, static_cast<std::size_t>(n));
    if (t.millis) {
        std::snprintf(buf, sizeof buf, ".%03d", *t.millis);
        out += buf;
    }
    if (t.utc) {
        out += 'Z';
    }
    return out;
}

namespace {

CivilTime from_tm(const std::tm& tm) {
    CivilTime t;
    t.year = tm.tm_year + 1900;
    t.month = tm.tm_mon + 1;
    t.day = tm.tm_mday;
    t.hour = tm.tm_hour;
    t.minute = tm.tm_min;
    t.second = tm.tm_sec;
    return t;
}

} // namespace

CivilTime utc_time(std::int64_t unix_ms) {
    std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    CivilTime t = from_tm(tm);
    t.millis = static_cast<int>(unix_ms % 1000);
    t.utc = true;
    return t;
}

CivilTime local_time(std::int64_t unix_seconds) {
    std::time_t seconds = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    localtime_r(&seconds, &tm);
    return from_tm(tm);
}

namespace {

// The number of `width` digits at `at` in `text`, if they are digits.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t width) {
    if (at + width > text.size()) {
        return std::nullopt;
    }
    int value = 0;
    const char* first = text.data() + at;
    auto [end, ec] = std::from_chars(first, first + width, value);
    if (ec != std::errc() || end != first + width) {
        return std::nullopt;
    }
    return value;
}

} // namespace

std::string local_minute(std::string_view iso_utc) {
    // YYYY-MM-DDTHH:MM[:SS]: the separators at 4, 7, 10, 13.
    const bool shaped = iso_utc.size() >= 16 && iso_utc[4] == '-' && iso_utc[7] == '-' &&
                        iso_utc[10] == 'T' && iso_utc[13] == ':';
    const auto year = digits(iso_utc, 0, 4), month = digits(iso_utc, 5, 2),
               day = digits(iso_utc, 8, 2), hour = digits(iso_utc, 11, 2),
               minute = digits(iso_utc, 14, 2);
    if (!shaped || !year || !month || !day || !hour || !minute) {
        return std::string(iso_utc);
    }
    std::tm utc{};
    utc.tm_year = *year - 1900;
    utc.tm_mon = *month - 1;
    utc.tm_mday = *day;
    utc.tm_hour = *hour;
    utc.tm_min = *minute;
    const CivilTime here = local_time(static_cast<std::int64_t>(timegm(&utc)));
    char buf[64];
    const int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", here.year,
                                here.month, here.day, here.hour, here.minute);
    return std::string(buf, static_cast<std::size_t>(n));
}

} // namespace caravan::client
