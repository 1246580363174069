#pragma once
// Counts failures per key (a client address) in a sliding window. Used for enrollment: a
// client that guessed wrong `max_failures` times within `window` must wait until the oldest of
// those failures leaves the window. Memory is bounded: at most `max_keys` keys are tracked; when
// full, keys whose failures have all expired are dropped first, then the stalest key.
// Thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

namespace caravan::sync::server {

class RateLimiter {
  public:
    RateLimiter(std::size_t max_failures, std::int64_t window_ms, std::size_t max_keys = 10000);

    // Seconds `key` must still wait (at least 1) before trying again; 0 when it may try now.
    [[nodiscard]] std::int64_t retry_after_s(const std::string& key, std::int64_t now_ms);
    void record_failure(const std::string& key, std::int64_t now_ms);

  private:
    void expire(std::deque<std::int64_t>& failures, std::int64_t now_ms) const;

    std::size_t m_max_failures;
    std::int64_t m_window_ms;
    std::size_t m_max_keys;
    std::mutex m_mutex;
    std::unordered_map<std::string, std::deque<std::int64_t>> m_failures;
};

} // namespace caravan::sync::server
