#include "caravan/client/hlc.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "caravan/client/iso_time.hpp"

namespace caravan::client {

std::string Hlc::to_hex() const {
    // By hand rather than snprintf: every recorded field carries a version made from this.
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out(16, '0');
    auto v = static_cast<std::uint64_t>(value);
    for (std::size_t i = 16; i-- > 0; v >>= 4) {
        out[i] = k_hex[v & 0x0f];
    }
    return out;
}

std::optional<Hlc> Hlc::from_hex(std::string_view text) {
    if (text.size() != 16) {
        return std::nullopt;
    }
    std::uint64_t v = 0;
    for (char c : text) {
        int digit;
        if (c >= '0' && c <= '9') {
            digit = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            digit = c - 'a' + 10;
        } else {
            return std::nullopt;
        }
        v = (v << 4) | static_cast<std::uint64_t>(digit);
    }
    if (v >> 63) {
        return std::nullopt;
    }
    return Hlc{static_cast<std::int64_t>(v)};
}

std::string Hlc::to_iso() const {
    return iso_8601(utc_time(value < 0 ? 0 : wall_ms()));
}

Hlc HlcClock::tick(std::int64_t now_ms) {
    const std::int64_t now = std::clamp<std::int64_t>(now_ms, 0, Hlc::k_max_wall_ms);
    if (now > m_last.wall_ms()) {
        m_last = Hlc::from_parts(now, 0);
    } else if (m_last.logical() < Hlc::k_logical_mask) {
        m_last = Hlc{m_last.value + 1};
    } else if (m_last.wall_ms() < Hlc::k_max_wall_ms) {
        // Counter exhausted within one millisecond: borrow the next millisecond.
        m_last = Hlc::from_parts(m_last.wall_ms() + 1, 0);
    }
    // else: at Hlc::max(), the top of the range; it stays there rather than wrap.
    return m_last;
}

void HlcClock::observe(Hlc remote) {
    if (remote > m_last) {
        m_last = remote;
    }
}

bool HlcClock::observe_within(Hlc remote, std::int64_t now_ms, std::int64_t lead_ms) {
    if (beyond_ceiling(remote, now_ms, lead_ms)) {
        return false;
    }
    observe(remote);
    return true;
}

std::int64_t system_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace caravan::client
