#include "caravan/client/export/atomic_file.hpp"
#include "caravan/client/messages.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace caravan::client::exports {

namespace {

std::string reason(int err) {
    return std::strerror(err);
}

// fsync a file or directory by path; `what` names it in the message.
Result<void> sync_path(const std::filesystem::path& path, int flags, std::string_view what) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        return fail(ErrorCode::io, msg::file_cannot_open, what, path.string(), reason(errno));
    }
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    // Some file systems refuse fsync on directories (EINVAL): the rename is still done.
    if (rc != 0 && !(flags & O_DIRECTORY && (err == EINVAL || err == EBADF))) {
        return fail(ErrorCode::io, msg::file_cannot_sync, what, path.string(), reason(err));
    }
    return {};
}

} // namespace

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& target) {
    if (target.empty() || !target.has_filename()) {
        return fail(ErrorCode::invalid_input, msg::output_no_name);
    }
    std::error_code ec;
    if (std::filesystem::is_directory(target, ec)) {
        return fail(ErrorCode::invalid_input, msg::output_is_directory, target.string());
    }
    std::filesystem::path dir = target.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    if (!std::filesystem::is_directory(dir, ec)) {
        bool exists = std::filesystem::exists(dir, ec);
        return fail(ErrorCode::invalid_input,
                    exists ? msg::output_not_directory : msg::output_no_directory, dir.string());
    }
    std::string pattern = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
    std::vector<char> name(pattern.begin(), pattern.end());
    name.push_back('\0');
    int fd = ::mkostemp(name.data(), O_CLOEXEC); // mode 0600
    if (fd < 0) {
        return fail(ErrorCode::invalid_input, msg::output_cannot_create, dir.string(),
                    reason(errno));
    }
    ::close(fd);
    return AtomicFile(target, std::filesystem::path(name.data()));
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : m_target(std::move(other.m_target)), m_temp(std::move(other.m_temp)),
      m_stream(std::move(other.m_stream)) {
    other.m_temp.clear();
}

AtomicFile::~AtomicFile() {
    discard();
}

void AtomicFile::discard() noexcept {
    m_stream.reset();
    if (!m_temp.empty()) {
        std::error_code ec;
        std::filesystem::remove(m_temp, ec);
        m_temp.clear();
    }
}

std::ostream& AtomicFile::stream() {
    if (!m_stream) {
        m_stream = std::make_unique<std::ofstream>(m_temp, std::ios::binary | std::ios::trunc);
    }
    return *m_stream;
}

Result<void> AtomicFile::commit() {
    if (m_temp.empty()) {
        // i18n-exempt: a bug in the caller (commit called twice), never a user's doing
        return fail(ErrorCode::internal, "output: commit of a finished file");
    }
    if (m_stream) {
        m_stream->flush();
        bool good = m_stream->good();
        m_stream->close();
        if (!good || m_stream->fail()) {
            discard();
            return fail(ErrorCode::io, msg::output_file_failed, m_target.string());
        }
        m_stream.reset();
    }
    if (auto ok = sync_path(m_temp, O_RDONLY, "output"); !ok) {
        discard();
        return ok;
    }
    if (::rename(m_temp.c_str(), m_target.c_str()) != 0) {
        int err = errno;
        discard();
        return fail(ErrorCode::io, msg::output_cannot_rename, m_target.string(), reason(err));
    }
    m_temp.clear();
    std::filesystem::path dir = m_target.parent_path();
    return sync_path(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY,
                     "output");
}

Result<void>
build_into_stream(const std::function<Result<void>(const std::filesystem::path&)>& build,
                  std::ostream& out) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) {
        dir = "/tmp";
    }
    auto file = AtomicFile::create(dir / "caravan-export");
    if (!file) {
        return fail(ErrorCode::io, msg::temporary_file_failed, file.error());
    }
    if (auto ok = build(file->temp_path()); !ok) {
        return ok;
    }
    std::ifstream in(file->temp_path(), std::ios::binary);
    if (!in) {
        return fail(ErrorCode::io, msg::temporary_file_unreadable);
    }
    out << in.rdbuf();
    if (!out) {
        return fail(ErrorCode::io, msg::output_write_failed);
    }
    return {}; // the destructor removes the temporary file
}

} // namespace caravan::client::exports
