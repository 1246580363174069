#include "caravan/sync/agent/sync_lock.hpp"
#include "caravan/sync/agent/messages.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>

namespace caravan::sync::agent {

std::filesystem::path SyncLock::lock_path(const std::filesystem::path& database) {
    return database.string() + ".sync.lock";
}

Result<SyncLock> SyncLock::acquire(const std::filesystem::path& database, bool wait) {
    auto path = lock_path(database);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return fail(ErrorCode::io, msg::lock_cannot_open, path.string());
    }
    SyncLock lock(fd);
    for (;;) {
        if (::flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) == 0) {
            return lock;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            return fail(ErrorCode::busy, msg::sync_busy, path.string());
        }
        return fail(ErrorCode::io, msg::lock_failed, path.string());
    }
}

SyncLock::~SyncLock() {
    if (m_fd >= 0) {
        ::close(m_fd); // releases the flock
    }
}

} // namespace caravan::sync::agent
