#pragma once
// Operator tasks on a data directory: backup (online), restore (server stopped), check (also
// of the PostgreSQL store).
//
// - backup() copies a consistent snapshot with SQLite's online backup API while the server may
//   be running, then checks the copy's integrity. The file is created owner-only.
// - restore() refuses while a server holds the directory's lock. It checks the file (a Caravan
//   server database, sound), brings its schema up to date, gives it a NEW epoch (devices then
//   re-push what the restored copy lacks and re-pull from 0), and swaps it in; the replaced
//   database is kept beside it as server.db.replaced-<UTC time>.
// - check() runs PRAGMA integrity_check on the live file, then, on a snapshot taken inside the
//   data directory (personal data does not leave it) and removed afterwards: rebuilds the
//   projections from the event log and compares fingerprints, and checks the server's own
//   invariants (every feed event has a scope row; each device's acked_seq covers exactly the
//   events held for it, contiguously; no event is both accepted and rejected).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "caravan/storage/result.hpp"
#include "caravan/sync/server/pg.hpp"

namespace caravan::sync::server {

[[nodiscard]] Result<void> backup(const std::filesystem::path& data_dir,
                                  const std::filesystem::path& file);

struct RestoreResult {
    std::string epoch;
    std::filesystem::path replaced; // where the previous database went; empty when none
};
[[nodiscard]] Result<RestoreResult> restore(const std::filesystem::path& data_dir,
                                            const std::filesystem::path& file);

struct CheckReport {
    std::vector<std::string> problems; // empty when everything holds
    std::int64_t events = 0;
    std::int64_t rejected = 0;
    std::int64_t devices = 0;
    std::string fingerprint; // of the projections as stored
    std::string rebuilt_fingerprint;
    [[nodiscard]] bool ok() const { return problems.empty(); }
};
[[nodiscard]] Result<CheckReport> check(const std::filesystem::path& data_dir);

// check() of the PostgreSQL store on `pool`'s database, `data_dir` holding this process's
// projection cache (pg-cache/) and the scratch space (created if missing). In one snapshot of
// PostgreSQL: the feed's positions and the rejected events' numbers are 1..head without a hole,
// and the registry's invariants above hold. Then the whole feed is replayed into a new cache in
// a scratch directory (removed afterwards), whose projections must equal a rebuild from its
// log; and this process's own cache, when it has one, brought up to the same head, must hold
// the same projections. fingerprint/rebuilt_fingerprint are the new cache's. busy when the
// feed kept moving so that the two caches never stood at one head.
[[nodiscard]] Result<CheckReport> check_postgresql(std::shared_ptr<pg::Pool> pool,
                                                   const std::filesystem::path& data_dir);

} // namespace caravan::sync::server
