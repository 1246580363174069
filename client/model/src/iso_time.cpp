#include "caravan/client/iso_time.hpp"

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

} // namespace caravan::client
