#pragma once
// What only a test does to a device database, through a connection of its own on the file
// (never the engine's, which is not public): run SQLite's integrity check, store an event as an
// older program stored it, without today's checks, and apply events straight to the
// projections.
#include <filesystem>
#include <string>
#include <vector>

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/storage/transaction.hpp"

namespace caravan::test {

// PRAGMA integrity_check of the file: empty when it is sound.
[[nodiscard]] inline Result<std::vector<std::string>>
integrity_problems(const std::filesystem::path& db) {
    auto conn = storage::Database::open(db);
    if (!conn) {
        return tl::unexpected(conn.error());
    }
    return conn->integrity_check();
}

// Appends `event` to the log and applies it to the projections, in one transaction, as a
// program without today's validation rules did.
[[nodiscard]] inline Result<void> store_as_older_program(const std::filesystem::path& db,
                                                         storage::Event event) {
    auto conn = storage::Database::open(db);
    if (!conn) {
        return tl::unexpected(conn.error());
    }
    auto tx = storage::Transaction::begin(*conn);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    if (auto appended = storage::EventLog(*conn).append(event); !appended) {
        return tl::unexpected(appended.error());
    }
    if (auto ok = client::Projector(*conn).apply(event); !ok) {
        return ok;
    }
    return tx->commit();
}

// Applies `events` to the projections only, bypassing the log and its duplicate check.
[[nodiscard]] inline Result<void> apply_to_projections(const std::filesystem::path& db,
                                                       const std::vector<storage::Event>& events) {
    auto conn = storage::Database::open(db);
    if (!conn) {
        return tl::unexpected(conn.error());
    }
    client::Projector projector(*conn);
    for (const storage::Event& e : events) {
        if (auto ok = projector.apply(e); !ok) {
            return ok;
        }
    }
    return {};
}

} // namespace caravan::test
