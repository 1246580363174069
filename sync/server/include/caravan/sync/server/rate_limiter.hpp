#pragma once
// Counts failures per key (a client address) in a sliding window. Used for enrollment: a
// client that guessed wrong `max_failures` times within `window` must wait until the oldest of
// those failures leaves the window. Memory is bounded: at most `max_keys` keys are tracked; when
// full, keys whose failures have all expired are dropped first, then the stalest key (never one
// with an attempt in flight).
//
// An attempt is reserved before it is evaluated (reserve(), before the request body is read):
// failures in the window plus attempts in flight never exceed `max_failures`, so a burst of N
// concurrent guesses from one key is cut at the limit instead of being counted after the fact.
// Thread-safe.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <tl/expected.hpp>

namespace caravan::sync::server {

class RateLimiter {
  public:
    RateLimiter(std::size_t max_failures, std::int64_t window_ms, std::size_t max_keys = 10000);

    // One reserved attempt. fail() counts it as a failure; otherwise (success, or a refusal
    // that is not a guess, such as a malformed body) it only frees its place when destroyed.
    class Slot {
      public:
        Slot(RateLimiter& limiter, std::string key) : m_limiter(&limiter), m_key(std::move(key)) {}
        Slot(Slot&& other) noexcept
            : m_limiter(std::exchange(other.m_limiter, nullptr)), m_key(std::move(other.m_key)) {}
        Slot& operator=(Slot&&) = delete;
        Slot(const Slot&) = delete;
        Slot& operator=(const Slot&) = delete;
        ~Slot();
        void fail(std::int64_t now_ms);

      private:
        RateLimiter* m_limiter;
        std::string m_key;
    };

    // A slot for one attempt from `key`, or the seconds to wait (at least 1) when the failures
    // in the window plus the attempts in flight already reach max_failures.
    [[nodiscard]] tl::expected<Slot, std::int64_t> reserve(const std::string& key,
                                                           std::int64_t now_ms);

    // Seconds `key` must still wait (at least 1) before trying again; 0 when it may try now
    // (attempts in flight not counted).
    [[nodiscard]] std::int64_t retry_after_s(const std::string& key, std::int64_t now_ms);
    void record_failure(const std::string& key, std::int64_t now_ms);

  private:
    struct Entry {
        std::deque<std::int64_t> failures;
        std::size_t in_flight = 0;
    };
    void expire(std::deque<std::int64_t>& failures, std::int64_t now_ms) const;
    std::int64_t wait_s(const Entry& entry, std::int64_t now_ms) const; // under m_mutex
    void make_room(const std::string& key, std::int64_t now_ms);        // under m_mutex
    void release(const std::string& key, bool failed, std::int64_t now_ms);

    std::size_t m_max_failures;
    std::int64_t m_window_ms;
    std::size_t m_max_keys;
    std::mutex m_mutex;
    std::unordered_map<std::string, Entry> m_entries;
};

} // namespace caravan::sync::server
