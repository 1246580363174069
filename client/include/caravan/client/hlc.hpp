#pragma once
// Hybrid logical clock (Kulkarni et al.): a 64-bit timestamp that follows wall-clock time but
// never runs backwards and always moves past every timestamp this device has seen, so an edit
// made after seeing another edit sorts after it even when the device's clock is wrong.
//
// Packing: upper 48 bits wall-clock milliseconds since the Unix epoch, lower 16 bits a logical
// counter. On the wire and in version strings it is written as 16 lowercase hex digits, so that
// string order equals numeric order.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caravan::client {

struct Hlc {
    std::int64_t value = 0;

    static constexpr int k_logical_bits = 16;
    static constexpr std::int64_t k_logical_mask = (1 << k_logical_bits) - 1;

    static constexpr Hlc from_parts(std::int64_t wall_ms, std::int64_t logical) {
        return Hlc{(wall_ms << k_logical_bits) | (logical & k_logical_mask)};
    }
    [[nodiscard]] constexpr std::int64_t wall_ms() const { return value >> k_logical_bits; }
    [[nodiscard]] constexpr std::int64_t logical() const { return value & k_logical_mask; }

    [[nodiscard]] std::string to_hex() const;
    [[nodiscard]] static std::optional<Hlc> from_hex(std::string_view text);
    // ISO 8601 UTC of the wall-clock part, millisecond precision.
    [[nodiscard]] std::string to_iso() const;

    friend constexpr auto operator<=>(const Hlc&, const Hlc&) = default;
};

// The clock state of one device. Pure: the caller supplies physical time, so tests can skew it.
class HlcClock {
  public:
    explicit HlcClock(Hlc last = {}) : m_last(last) {}

    // A timestamp for a local event at physical time `now_ms`: greater than every one issued or
    // observed before.
    Hlc tick(std::int64_t now_ms);
    // Takes a timestamp received from another device into account.
    void observe(Hlc remote);
    [[nodiscard]] Hlc last() const { return m_last; }

  private:
    Hlc m_last;
};

[[nodiscard]] std::int64_t system_now_ms();

} // namespace caravan::client
