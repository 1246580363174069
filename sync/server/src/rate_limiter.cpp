#include "caravan/sync/server/rate_limiter.hpp"

#include <algorithm>

namespace caravan::sync::server {

RateLimiter::RateLimiter(std::size_t max_failures, std::int64_t window_ms, std::size_t max_keys)
    : m_max_failures(std::max<std::size_t>(1, max_failures)), m_window_ms(window_ms),
      m_max_keys(std::max<std::size_t>(1, max_keys)) {}

RateLimiter::Slot::~Slot() {
    if (m_limiter) {
        m_limiter->release(m_key, false, 0);
    }
}

void RateLimiter::Slot::fail(std::int64_t now_ms) {
    if (m_limiter) {
        std::exchange(m_limiter, nullptr)->release(m_key, true, now_ms);
    }
}

void RateLimiter::expire(std::deque<std::int64_t>& failures, std::int64_t now_ms) const {
    while (!failures.empty() && failures.front() + m_window_ms <= now_ms) {
        failures.pop_front();
    }
}

std::int64_t RateLimiter::wait_s(const Entry& entry, std::int64_t now_ms) const {
    const std::size_t used = entry.failures.size() + entry.in_flight;
    if (used < m_max_failures) {
        return 0;
    }
    if (entry.failures.size() < m_max_failures) {
        // Held by attempts still being evaluated: one of them ends within a request's time.
        return 1;
    }
    // Free again when enough failures have left the window to go below the limit.
    std::int64_t frees_at = entry.failures[entry.failures.size() - m_max_failures] + m_window_ms;
    return std::max<std::int64_t>(1, (frees_at - now_ms + 999) / 1000);
}

void RateLimiter::make_room(const std::string& key, std::int64_t now_ms) {
    if (m_entries.size() < m_max_keys || m_entries.contains(key)) {
        return;
    }
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        expire(it->second.failures, now_ms);
        bool idle = it->second.failures.empty() && it->second.in_flight == 0;
        it = idle ? m_entries.erase(it) : std::next(it);
    }
    if (m_entries.size() < m_max_keys) {
        return;
    }
    auto stalest = m_entries.end();
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (it->second.in_flight == 0 &&
            (stalest == m_entries.end() ||
             it->second.failures.back() < stalest->second.failures.back())) {
            stalest = it;
        }
    }
    if (stalest != m_entries.end()) {
        m_entries.erase(stalest);
    }
}

tl::expected<RateLimiter::Slot, std::int64_t> RateLimiter::reserve(const std::string& key,
                                                                   std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    if (auto it = m_entries.find(key); it != m_entries.end()) {
        expire(it->second.failures, now_ms);
        if (std::int64_t wait = wait_s(it->second, now_ms); wait > 0) {
            return tl::unexpected(wait);
        }
    }
    make_room(key, now_ms);
    ++m_entries[key].in_flight;
    return Slot(*this, key);
}

void RateLimiter::release(const std::string& key, bool failed, std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(key);
    if (it == m_entries.end()) {
        return;
    }
    Entry& entry = it->second;
    if (entry.in_flight > 0) {
        --entry.in_flight;
    }
    if (failed) {
        entry.failures.push_back(now_ms);
        while (entry.failures.size() > m_max_failures) {
            entry.failures.pop_front();
        }
    }
    if (entry.failures.empty() && entry.in_flight == 0) {
        m_entries.erase(it);
    }
}

std::int64_t RateLimiter::retry_after_s(const std::string& key, std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(key);
    if (it == m_entries.end()) {
        return 0;
    }
    expire(it->second.failures, now_ms);
    Entry without_flight{it->second.failures, 0};
    std::int64_t wait = wait_s(without_flight, now_ms);
    if (it->second.failures.empty() && it->second.in_flight == 0) {
        m_entries.erase(it);
    }
    return wait;
}

void RateLimiter::record_failure(const std::string& key, std::int64_t now_ms) {
    std::lock_guard lock(m_mutex);
    make_room(key, now_ms);
    auto& failures = m_entries[key].failures;
    failures.push_back(now_ms);
    // Only the newest max_failures matter for the decision.
    while (failures.size() > m_max_failures) {
        failures.pop_front();
    }
}

} // namespace caravan::sync::server
