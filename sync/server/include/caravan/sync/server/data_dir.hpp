#pragma once
// The server's data directory: `server.db` (SQLite, WAL) and `server.lock`.
//
// A running `caravan-server serve` holds an exclusive lock on `server.lock` (flock), and so does
// `caravan-server restore`: a restore cannot replace the database under a running server, and
// two servers cannot share one directory. The lock is released when the holder exits, however
// it exits.

#include <filesystem>
#include <optional>
#include <string>

#include "caravan/storage/result.hpp"

namespace caravan::sync::server {

[[nodiscard]] std::filesystem::path database_path(const std::filesystem::path& data_dir);
[[nodiscard]] std::filesystem::path lock_path(const std::filesystem::path& data_dir);
// A file mode as `ls -l` users write it for chmod: "0755".
[[nodiscard]] std::string mode_text(unsigned mode);

class DataDirLock {
  public:
    // Creates the directory (owner-only) if needed and takes the lock without waiting; `busy`
    // when another process (or another lock in this process) holds it. An existing directory
    // that its group or other users may enter or read (e.g. 0755) is tightened to 0700 first:
    // it holds every region's records and the device tokens' hashes. tightened_from() then
    // names the mode it had, for the caller to say so.
    [[nodiscard]] static Result<DataDirLock> acquire(const std::filesystem::path& data_dir);

    // The directory's mode before acquire() tightened it (e.g. 0755), if it did.
    [[nodiscard]] std::optional<unsigned> tightened_from() const { return m_tightened_from; }

    DataDirLock(DataDirLock&& other) noexcept
        : m_fd(other.m_fd), m_tightened_from(other.m_tightened_from) {
        other.m_fd = -1;
    }
    DataDirLock& operator=(DataDirLock&&) = delete;
    DataDirLock(const DataDirLock&) = delete;
    ~DataDirLock();

  private:
    explicit DataDirLock(int fd) : m_fd(fd) {}
    int m_fd = -1;
    std::optional<unsigned> m_tightened_from;
};

} // namespace caravan::sync::server
