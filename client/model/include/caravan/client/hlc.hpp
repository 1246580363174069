#pragma once
// Hybrid logical clock (Kulkarni et al.): a 64-bit timestamp that follows wall-clock time but
// never runs backwards and always moves past every timestamp this device has seen, so an edit
// made after seeing another edit sorts after it even when the device's clock is wrong.
//
// Packing: upper 48 bits wall-clock milliseconds since the Unix epoch, lower 16 bits a logical
// counter. On the wire and in version strings it is written as 16 lowercase hex digits, so that
// string order equals numeric order.
//
// Range: a value is never negative. The wall-clock part runs from 0 to k_max_wall_ms (47 bits,
// the year 6429) and the counter from 0 to k_logical_mask. Every operation here saturates at
// those ends instead of overflowing into the sign bit (from_parts clamps its parts, tick stops
// at Hlc::max()), so no input, however hostile, gives a negative or wrapped value.
//
// Bound (docs/sync-algorithm.md, "Clock rules"): a clock value more than k_max_lead_ms ahead of
// a receiver's own wall clock is beyond what any honest device can have issued; the server
// refuses such an event (`clock_ahead`) and a device applies one without letting it move its
// clock. clock_ceiling() is that limit for a given wall-clock time.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace caravan::client {

struct Hlc {
    std::int64_t value = 0;

    static constexpr int k_logical_bits = 16;
    static constexpr std::int64_t k_logical_mask = (1 << k_logical_bits) - 1;
    static constexpr std::int64_t k_max_wall_ms =
        std::numeric_limits<std::int64_t>::max() >> k_logical_bits;
    // How far ahead of the server's wall clock an accepted clock value may be: one day.
    static constexpr std::int64_t k_max_lead_ms = 24LL * 3600 * 1000;
    // How far ahead of a device's own wall clock a received clock value may move that device's
    // clock: a year. Wider than the server's bound because a laptop's clock is the least
    // trusted one (often days or weeks slow): within it, causality holds for a slow laptop too;
    // beyond it lie only values no honest device issued (docs/sync-algorithm.md 2.2.1).
    static constexpr std::int64_t k_device_max_lead_ms = 365LL * 24 * 3600 * 1000;

    // Each part clamped into its range: a wall clock beyond the year 6429 reads as that year, a
    // negative one as the epoch; a counter beyond 16 bits as the greatest counter.
    static constexpr Hlc from_parts(std::int64_t wall_ms, std::int64_t logical) {
        const std::int64_t w = std::clamp<std::int64_t>(wall_ms, 0, k_max_wall_ms);
        const std::int64_t l = std::clamp<std::int64_t>(logical, 0, k_logical_mask);
        return Hlc{(w << k_logical_bits) | l};
    }
    static constexpr Hlc max() { return Hlc{std::numeric_limits<std::int64_t>::max()}; }
    [[nodiscard]] constexpr std::int64_t wall_ms() const { return value >> k_logical_bits; }
    [[nodiscard]] constexpr std::int64_t logical() const { return value & k_logical_mask; }

    [[nodiscard]] std::string to_hex() const;
    [[nodiscard]] static std::optional<Hlc> from_hex(std::string_view text);
    // ISO 8601 UTC of the wall-clock part, millisecond precision (a negative value, which no
    // operation here produces, prints as the epoch).
    [[nodiscard]] std::string to_iso() const;

    friend constexpr auto operator<=>(const Hlc&, const Hlc&) = default;
};

// The greatest clock value a receiver whose wall clock reads `now_ms` accepts, `lead_ms` (>= 0)
// ahead of it (saturating).
[[nodiscard]] constexpr Hlc clock_ceiling(std::int64_t now_ms,
                                          std::int64_t lead_ms = Hlc::k_max_lead_ms) {
    const std::int64_t room = Hlc::k_max_wall_ms - lead_ms;
    return Hlc::from_parts(now_ms > room ? Hlc::k_max_wall_ms : now_ms + lead_ms,
                           Hlc::k_logical_mask);
}
// True when `h` lies beyond clock_ceiling(now_ms, lead_ms), or is negative (no clock value).
[[nodiscard]] constexpr bool beyond_ceiling(Hlc h, std::int64_t now_ms,
                                            std::int64_t lead_ms = Hlc::k_max_lead_ms) {
    return h.value < 0 || h > clock_ceiling(now_ms, lead_ms);
}

// The clock state of one device. Pure: the caller supplies physical time, so tests can skew it.
class HlcClock {
  public:
    explicit HlcClock(Hlc last = {}) : m_last(Hlc{std::max<std::int64_t>(0, last.value)}) {}

    // A timestamp for a local event at physical time `now_ms`: greater than every one issued or
    // observed before, until Hlc::max() is reached; from there on it stays at Hlc::max() (the
    // event log then refuses the repeated value: an error, never a wrapped clock). Unreachable
    // in practice: it takes a wall clock in the year 6429.
    Hlc tick(std::int64_t now_ms);
    // Takes a timestamp received from another device into account (unbounded: the caller
    // decides whether the value is believable, see observe_within).
    void observe(Hlc remote);
    // observe(remote) when remote is within clock_ceiling(now_ms, lead_ms); otherwise the clock
    // is left as it is and false is returned (the event is applied without moving this clock).
    bool observe_within(Hlc remote, std::int64_t now_ms,
                        std::int64_t lead_ms = Hlc::k_device_max_lead_ms);
    [[nodiscard]] Hlc last() const { return m_last; }

  private:
    Hlc m_last;
};

[[nodiscard]] std::int64_t system_now_ms();

} // namespace caravan::client
