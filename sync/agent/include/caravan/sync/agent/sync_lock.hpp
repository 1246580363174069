#pragma once
// Keeps two syncs of one device database from running at once: an exclusive flock(2) on
// "<database>.sync.lock". The kernel drops the lock when the process dies, kill -9 included,
// so a crashed sync never blocks the next one.

#include <filesystem>

#include "caravan/storage/result.hpp"

namespace caravan::sync::agent {

class SyncLock {
  public:
    // `busy` when another process holds the lock and `wait` is false; with `wait`, blocks until
    // the other sync ends.
    [[nodiscard]] static Result<SyncLock> acquire(const std::filesystem::path& database, bool wait);
    SyncLock(SyncLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    SyncLock& operator=(SyncLock&&) = delete;
    SyncLock(const SyncLock&) = delete;
    ~SyncLock();

    [[nodiscard]] static std::filesystem::path lock_path(const std::filesystem::path& database);

  private:
    explicit SyncLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

} // namespace caravan::sync::agent
