#pragma once
// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
// Jitter"): after the n-th consecutive failure wait a uniformly random time in
// [0, min(cap, base * 2^(n-1))]. Jitter spreads the retries of many devices that lost the same
// link at the same moment; the cap keeps a long outage from pushing the next try past the
// nightly window.

#include <chrono>
#include <cstdint>
#include <random>

namespace caravan::sync::agent {

class Backoff {
  public:
    using Millis = std::chrono::milliseconds;
    Backoff(Millis base, Millis cap, std::uint64_t seed);

    // The wait before the next try; counts one more failure.
    [[nodiscard]] Millis next();
    // After a success: the next failure waits little again.
    void reset() { m_failures = 0; }
    [[nodiscard]] int failures() const { return m_failures; }
    // The current upper bound of the wait (before jitter).
    [[nodiscard]] Millis ceiling() const;

  private:
    Millis m_base;
    Millis m_cap;
    int m_failures = 0;
    std::mt19937_64 m_rng;
};

} // namespace caravan::sync::agent
