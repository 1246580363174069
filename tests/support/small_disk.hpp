#pragma once
// A small tmpfs the test mounts, to fill a disk for real (root only; CI runs as root). Tests
// call can_mount() first and return early, with a warning, when they cannot mount.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace caravan::test {

// A tmpfs of `size` mounted on a fresh directory; unmounted on destruction.
class SmallDisk {
  public:
    SmallDisk(const std::filesystem::path& where, const std::string& size) : m_path(where) {
        std::filesystem::create_directories(m_path);
        std::string options = "size=" + size + ",mode=0700";
        m_mounted = ::mount("tmpfs", m_path.c_str(), "tmpfs", 0, options.c_str()) == 0;
    }
    ~SmallDisk() {
        if (m_mounted) {
            ::umount2(m_path.c_str(), MNT_DETACH);
        }
    }
    SmallDisk(const SmallDisk&) = delete;
    SmallDisk& operator=(const SmallDisk&) = delete;
    [[nodiscard]] bool mounted() const { return m_mounted; }
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    // Writes a filler file until the disk refuses more; returns its size.
    std::uintmax_t fill() const {
        std::ofstream out(m_path / "filler", std::ios::binary);
        std::string block(64 * 1024, 'x');
        std::uintmax_t written = 0;
        for (int i = 0; i < 100000 && out.write(block.data(), block.size()); ++i) {
            out.flush();
            if (!out) {
                break;
            }
            written += block.size();
        }
        // Then byte by byte: not even a small file fits any more.
        std::ofstream tail(m_path / "filler-tail", std::ios::binary);
        for (int i = 0; i < 64 * 1024 && tail.put('x'); ++i) {
            tail.flush();
            if (!tail) {
                break;
            }
        }
        return written;
    }
    // Frees `bytes` of the filled disk (the filler shrinks).
    void free_bytes(std::uintmax_t bytes) const {
        std::filesystem::remove(m_path / "filler-tail");
        auto size = std::filesystem::file_size(m_path / "filler");
        std::filesystem::resize_file(m_path / "filler", size > bytes ? size - bytes : 0);
    }
    void free_space() const {
        std::filesystem::remove(m_path / "filler");
        std::filesystem::remove(m_path / "filler-tail");
    }

  private:
    std::filesystem::path m_path;
    bool m_mounted = false;
};

inline bool can_mount() {
    if (::geteuid() != 0) {
        WARN("not root: the tmpfs disk-full test cannot mount and is skipped");
        return false;
    }
    return true;
}

} // namespace caravan::test
