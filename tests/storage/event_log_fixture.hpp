#pragma once
// Where the event log's tests start (TEST_CASE_METHOD(FreshLog, ...)): a database in a
// temporary directory with the event log installed, and the log.

#include <catch2/catch.hpp>

#include "caravan/storage/event_log.hpp"
#include "temp_dir.hpp"

namespace caravan::test {

// The database `db` holds, with the event log's tables installed; fails the test otherwise.
inline storage::Database& with_event_log(Result<storage::Database>& db) {
    REQUIRE(db);
    REQUIRE(storage::EventLog::install(*db));
    return *db;
}

struct FreshLog {
    TempDir dir;
    Result<storage::Database> db = storage::Database::open(dir / "a.db");
    storage::EventLog log{with_event_log(db)};
};

} // namespace caravan::test
