#pragma once
// The server's data directory: `server.db` (SQLite, WAL) and `server.lock`.
//
// A running `caravan-server serve` holds an exclusive lock on `server.lock` (flock), and so does
// `caravan-server restore`: a restore cannot replace the database under a running server, and
// two servers cannot share one directory. The lock is released when the holder exits, however
// it exits.

#include <filesystem>

#include "caravan/storage/result.hpp"

namespace caravan::sync::server {

[[nodiscard]] std::filesystem::path database_path(const std::filesystem::path& data_dir);
[[nodiscard]] std::filesystem::path lock_path(const std::filesystem::path& data_dir);

class DataDirLock {
  public:
    // Creates the directory (owner-only) if needed and takes the lock without waiting; `busy`
    // when another process (or another lock in this process) holds it.
    [[nodiscard]] static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);

    DataDirLock(DataDirLock&& other) noexcept : m_fd(other.m_fd) { other.m_fd = -1; }
    DataDirLock& operator=(DataDirLock&&) = delete;
    DataDirLock(const DataDirLock&) = delete;
    ~DataDirLock();

  private:
    explicit DataDirLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
};

} // namespace caravan::sync::server
