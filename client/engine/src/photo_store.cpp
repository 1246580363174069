// The device's own copies of its photos: <database folder>/photos/<sha256>.<ext>. A browser
// hands the app bytes, not paths, and a lawyer's camera card is taken out again: the file a
// photo record names must stay where Caravan can find it (for thumbnails now, for uploading
// later). The CLI's `photo add` keeps the same copies.
#include <fcntl.h>
#include <sys/stat.h>
#include <libexif/exif-data.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>

#include "caravan/client/engine.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"

namespace caravan::client {
namespace {

namespace fs = std::filesystem;

// ".jpg" for "IMG_1.JPG"; only a short alphanumeric extension is kept, lower case.
std::string safe_extension(const fs::path& file) {
    std::string ext = file.extension().string();
    if (ext.size() < 2 || ext.size() > 6 ||
        !std::all_of(ext.begin() + 1, ext.end(), [](unsigned char c) { return std::isalnum(c); })) {
        return {};
    }
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return ext;
}

bool is_sha256_hex(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

// Copies `from` to `to` durably: a temporary file in the same folder, fsync, rename, fsync of
// the folder. A copy cut short by a power loss is never found under the final name.
bool durable_copy(const fs::path& from, const fs::path& to) {
    const fs::path tmp = to.string() + ".part";
    {
        std::ifstream in(from, std::ios::binary);
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (!in || fd < 0) {
            if (fd >= 0) {
                ::close(fd);
            }
            return false;
        }
        std::vector<char> buf(1 << 16);
        bool ok = true;
        while (ok && in) {
            in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
            for (std::streamsize off = 0, got = in.gcount(); ok && off < got;) {
                const ssize_t n = ::write(fd, buf.data() + off, static_cast<std::size_t>(got - off));
                ok = n > 0;
                off += n > 0 ? n : 0;
            }
        }
        ok = ok && !in.bad() && ::fsync(fd) == 0;
        ok = ::close(fd) == 0 && ok;
        if (!ok) {
            std::error_code ec;
            fs::remove(tmp, ec);
            return false;
        }
    }
    std::error_code ec;
    fs::rename(tmp, to, ec);
    if (ec) {
        fs::remove(tmp, ec);
        return false;
    }
    const int dir = ::open(to.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        ::fsync(dir);
        ::close(dir);
    }
    return true;
}

} // namespace

fs::path Engine::photo_folder() const {
    return m_db.path().parent_path() / "photos";
}

Result<fs::path> Engine::keep_photo_copy(const fs::path& file, const std::string& sha256) {
    const fs::path folder = photo_folder();
    const fs::path target = folder / (sha256 + safe_extension(file));
    std::error_code ec;
    if (fs::exists(target, ec)) {
        return target; // named by its content: the same bytes are there already
    }
    fs::create_directories(folder, ec);
    ::chmod(folder.c_str(), 0700);
    if (!durable_copy(file, target)) {
        return fail(ErrorCode::io, msg::photo_copy_failed, file.filename().string());
    }
    return target;
}

std::optional<fs::path> Engine::photo_copy(std::string_view sha256) const {
    if (!is_sha256_hex(sha256)) {
        return std::nullopt;
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(photo_folder(), ec)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with(sha256) && !name.ends_with(".part") && entry.is_regular_file(ec)) {
            return entry.path();
        }
    }
    return std::nullopt;
}

std::optional<std::string> Engine::photo_thumbnail(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::string head(1 << 16, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
    struct Unref {
        void operator()(ExifData* d) const noexcept { exif_data_unref(d); }
    };
    std::unique_ptr<ExifData, Unref> exif(exif_data_new_from_data(
        reinterpret_cast<const unsigned char*>(head.data()), static_cast<unsigned>(head.size())));
    if (!exif || !exif->data || exif->size < 4 || exif->data[0] != 0xFF || exif->data[1] != 0xD8) {
        return std::nullopt;
    }
    return std::string(reinterpret_cast<const char*>(exif->data), exif->size);
}

} // namespace caravan::client
