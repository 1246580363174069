#pragma once
// What `check` shares between the embedded store (maintenance.cpp) and PostgreSQL
// (pg_check.cpp): the invariants whose SQL runs on both, the comparison of the projections with
// a rebuild from the event log, and a scratch directory inside the data directory (personal
// data does not leave it).

#include <filesystem>
#include <string_view>
#include <utility>

#include "caravan/storage/database.hpp"
#include "caravan/storage/result.hpp"
#include "caravan/sync/server/maintenance.hpp"

namespace caravan::sync::server {

// One invariant of the server's state: a query counting its violations.
struct Invariant {
    std::string_view what;
    std::string_view sql;
};

// The registry's and the feed's invariants, in SQL that SQLite and PostgreSQL both run:
// nothing both accepted and rejected; each device's acked_seq covers exactly the events held
// for it, without a gap; no event from a device that was never enrolled.
extern const Invariant k_device_invariants[3];

// Fingerprints the projections of `db` (a server SQLite database), rebuilds them from its
// event log inside a transaction, fingerprints again; records both in `report`, and a problem
// when they differ.
[[nodiscard]] Result<void> compare_with_rebuild(storage::Database& db, CheckReport& report);

// A directory created inside `parent`, removed with its content on destruction.
class Scratch {
  public:
    [[nodiscard]] static Result<Scratch> make(const std::filesystem::path& parent);
    Scratch(Scratch&& other) noexcept : m_path(std::move(other.m_path)) { other.m_path.clear(); }
    Scratch& operator=(Scratch&&) = delete;
    ~Scratch();
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

  private:
    explicit Scratch(std::filesystem::path path) : m_path(std::move(path)) {}
    std::filesystem::path m_path;
};

} // namespace caravan::sync::server
