#include "caravan/sync/server/rate_limiter.hpp"

#include <algorithm>

namespace caravan::sync::server {

RateLimiter::RateLimiter(std::size_t max_failures, std::int64_t window_ms, std::size_t max_keys)
    : m_max_failures(std::max<std::size_t>(1, max_failures)), m_window_ms(window_ms),
      m_max_keys(std::max<std::size_t>(1, max_keys)) {}

void RateLimiter::expire(std::deque<std::int64_t>& failures, std::int64_t now_ms) const {
    while (!failures.empty() && failures.front() + m_window_ms <= now_ms) {
        failures.pop_front();
    }
}

std::int64_t RateLimiter::retry_after_s(const std::string& key, std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    auto it = m_failures.find(key);
    if (it == m_failures.end()) {
        return 0;
    }
    expire(it->second, now_ms);
    if (it->second.size() < m_max_failures) {
        if (it->second.empty()) {
            m_failures.erase(it);
        }
        return 0;
    }
    // Free again when enough failures have left the window to go below the limit.
    std::int64_t frees_at = it->second[it->second.size() - m_max_failures] + m_window_ms;
    return std::max<std::int64_t>(1, (frees_at - now_ms + 999) / 1000);
}

void RateLimiter::record_failure(const std::string& key, std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    if (m_failures.size() >= m_max_keys && !m_failures.contains(key)) {
        for (auto it = m_failures.begin(); it != m_failures.end();) {
            expire(it->second, now_ms);
            it = it->second.empty() ? m_failures.erase(it) : std::next(it);
        }
        if (m_failures.size() >= m_max_keys) {
            auto stalest = std::min_element(
                m_failures.begin(), m_failures.end(),
                [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
            m_failures.erase(stalest);
        }
    }
    auto& failures = m_failures[key];
    failures.push_back(now_ms);
    // Only the newest max_failures matter for the decision.
    while (failures.size() > m_max_failures) {
        failures.pop_front();
    }
}

} // namespace caravan::sync::server
