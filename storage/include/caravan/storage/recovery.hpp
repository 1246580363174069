#pragma once
// Reading what can still be read from a damaged database file.
//
// SQLite stops a query at the first damaged page it meets, and Debian 12's libsqlite3 (3.40.1)
// is built without the recovery extension (sqlite3_recover_*) and without the sqlite_dbpage
// table, so this reads the file's pages itself, by the documented file format
// (https://www.sqlite.org/fileformat2.html), as the `sqlite3` shell's `.recover` does:
// - the schema (sqlite_schema rows, found by their shape on any table leaf page) gives the root
//   pages of the event log's table, of its unique (device_id, seq) index and of the settings;
// - every table leaf page of the file is read, reachable from a root or not (a damaged interior
//   page orphans its children), and each row with the exact shape of the event log's STRICT
//   table is an event; its overflow chain, when it has one, is followed page by page;
// - the index and the settings are read by walking their trees from their roots.
// Whatever page does not parse (bad type byte, cell outside the page, broken overflow chain) is
// skipped: nothing is guessed, a row is returned whole or not at all.
//
// Contract:
// - The damaged file and its -wal are never written: they are copied to `scratch` and
//   `scratch`-wal (the caller names a path that does not exist; the copies are removed before
//   this returns). When SQLite can still open the copy, its WAL is checkpointed into it first,
//   so that committed events still in the WAL are read too.
// - One row per (device_id, seq) at most; rows are returned in log_position order.
// - Reads the whole file once plus one page per overflow page; memory holds one page and the
//   rows returned.

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "caravan/storage/event_log.hpp"
#include "caravan/storage/result.hpp"

namespace caravan::storage {

// An event's key; device_id is empty and seq 0 when they could not be read.
struct EventKey {
    std::string device_id;
    std::int64_t seq = 0;
    std::int64_t log_position = 0;
};

struct Recovery {
    std::vector<Event> events;        // rows read whole, in log_position order
    std::vector<EventKey> unreadable; // rows found whose payload could not be read whole
    std::vector<EventKey> index_keys; // every key found in the (device_id, seq) index
    std::vector<std::pair<std::string, std::string>> settings; // key, value
    bool schema_found = false;      // the event log's table located in the schema
    bool settings_complete = false; // the settings tree read without a damaged page
    bool wal_checkpointed = false;  // a -wal existed and was folded into the copy
    std::int64_t pages = 0;         // pages in the file
    std::int64_t pages_skipped = 0; // pages that are no readable b-tree page (damaged, or free)
};

[[nodiscard]] Result<Recovery> recover_event_log(const std::filesystem::path& damaged,
                                                 const std::filesystem::path& scratch);

} // namespace caravan::storage
