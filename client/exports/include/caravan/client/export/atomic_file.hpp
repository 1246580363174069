#pragma once
// An output file that appears complete or not at all.
//
// Contract:
// - create() makes a temporary file next to the target (same directory, so the final rename is
//   atomic on POSIX file systems), readable and writable by the owner only: exports hold
//   personal data. A target whose directory is missing, is not writable, or that names a
//   directory is refused with invalid_input (the user named a bad path), before anything is
//   written.
// - Write through stream(), or let a library write to temp_path() (libxlsxwriter does).
// - commit() flushes, fsyncs, renames over the target (replacing an older file) and fsyncs the
//   directory. A write error found on the way returns io and leaves no file behind.
// - Destroying an AtomicFile that was not committed removes the temporary file; the target is
//   then untouched. Never throws.

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>

#include "caravan/storage/result.hpp"

namespace caravan::client::exports {

class AtomicFile {
  public:
    [[nodiscard]] static Result<AtomicFile> create(const std::filesystem::path& target);
    AtomicFile(AtomicFile&& other) noexcept;
    AtomicFile& operator=(AtomicFile&&) = delete;
    AtomicFile(const AtomicFile&) = delete;
    ~AtomicFile();

    [[nodiscard]] const std::filesystem::path& target() const { return m_target; }
    [[nodiscard]] const std::filesystem::path& temp_path() const { return m_temp; }
    // A binary output stream on the temporary file, opened on first use.
    [[nodiscard]] std::ostream& stream();
    [[nodiscard]] Result<void> commit();
    // Removes the temporary file now.
    void discard() noexcept;

  private:
    AtomicFile(std::filesystem::path target, std::filesystem::path temp)
        : m_target(std::move(target)), m_temp(std::move(temp)) {}
    std::filesystem::path m_target;
    std::filesystem::path m_temp; // empty once committed or discarded
    std::unique_ptr<std::ofstream> m_stream;
};

// For writers that need a file (libxlsxwriter): runs `build` on a fresh temporary file in the
// system's temporary directory, copies the result to `out` and removes the file, whatever
// happens.
[[nodiscard]] Result<void>
build_into_stream(const std::function<Result<void>(const std::filesystem::path&)>& build,
                  std::ostream& out);

} // namespace caravan::client::exports
