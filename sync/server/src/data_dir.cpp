#include "caravan/sync/server/data_dir.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <system_error>

namespace caravan::sync::server {

std::string mode_text(unsigned mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777);
    return text;
}

std::filesystem::path database_path(const std::filesystem::path& data_dir) {
    return data_dir / "server.db";
}

std::filesystem::path lock_path(const std::filesystem::path& data_dir) {
    return data_dir / "server.lock";
}

Result<DataDirLock> DataDirLock::acquire(const std::filesystem::path& data_dir) {
    std::error_code ec;
    if (!std::filesystem::exists(data_dir, ec)) {
        std::filesystem::create_directories(data_dir, ec);
        if (ec) {
            return fail(ErrorCode::io,
                        "cannot create data directory " + data_dir.string() + ": " + ec.message());
        }
        std::filesystem::permissions(data_dir, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::replace, ec);
    }
    std::optional<unsigned> tightened_from;
    struct stat st {};
    if (::stat(data_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) != 0) {
        if (::chmod(data_dir.c_str(), 0700) != 0) {
            return fail(ErrorCode::io, "the data directory " + data_dir.string() +
                                           " is open to other users (mode " +
                                           mode_text(st.st_mode) +
                                           ") and cannot be made private: " +
                                           std::generic_category().message(errno) +
                                           "; run chmod 700 " + data_dir.string());
        }
        tightened_from = static_cast<unsigned>(st.st_mode & 07777);
    }
    int fd = ::open(lock_path(data_dir).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return fail(ErrorCode::io, "cannot open " + lock_path(data_dir).string() + ": " +
                                       std::generic_category().message(errno));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int error = errno;
        ::close(fd);
        if (error == EWOULDBLOCK) {
            return fail(ErrorCode::busy, "the data directory " + data_dir.string() +
                                             " is in use by a running caravan-server");
        }
        return fail(ErrorCode::io, "cannot lock " + lock_path(data_dir).string() + ": " +
                                       std::generic_category().message(error));
    }
    DataDirLock lock(fd);
    lock.m_tightened_from = tightened_from;
    return lock;
}

DataDirLock::~DataDirLock() {
    if (m_fd >= 0) {
        ::close(m_fd); // releases the flock
    }
}

} // namespace caravan::sync::server
