#include "caravan/sync/agent/backoff.hpp"

#include <algorithm>

namespace caravan::sync::agent {

Backoff::Backoff(Millis base, Millis cap, std::uint64_t seed)
    : m_base(std::max(base, Millis(1))), m_cap(std::max(cap, m_base)), m_rng(seed) {}

Backoff::Millis Backoff::ceiling() const {
    // Doubling stops once past the cap, so the shift never overflows.
    Millis bound = m_base;
    for (int i = 1; i < m_failures && bound < m_cap; ++i) {
        bound *= 2;
    }
    return std::min(bound, m_cap);
}

Backoff::Millis Backoff::next() {
    ++m_failures;
    std::uniform_int_distribution<std::int64_t> pick(0, ceiling().count());
    return Millis(pick(m_rng));
}

} // namespace caravan::sync::agent
