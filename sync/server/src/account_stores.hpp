#pragma once
// The two homes of the dashboard's account rows (AccountStore, accounts.hpp): the embedded
// store's SQLite database and the PostgreSQL database that every server process shares.
//
// Contract:
// - The SQLite one works on one Store's connection, one thread at a time; its login failures
//   are the process's own limiter's business (login_wait_s is 0, nothing recorded).
// - The PostgreSQL one takes a connection from the pool for each call and returns it; a call that
//   writes more than one row does so in one transaction.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/database.hpp"
#include "caravan/sync/server/accounts.hpp"
#include "caravan/sync/server/pg.hpp"

namespace caravan::sync::server {

// An Account from its stored columns (regions and settings are JSON text; bad JSON reads as
// none / the defaults).
[[nodiscard]] Account account_from_row(std::string name, std::string_view role,
                                       std::string_view regions, std::int64_t created_at_ms,
                                       std::string_view settings);
// The regions as stored: a JSON array of strings.
[[nodiscard]] std::string regions_json(const std::vector<std::string>& regions);

// The embedded store's rows on `db` (which must outlive it).
[[nodiscard]] std::unique_ptr<AccountStore> sqlite_account_store(storage::Database& db);
// PostgreSQL's rows through `pool` (which must outlive it).
[[nodiscard]] std::unique_ptr<AccountStore> pg_account_store(pg::Pool& pool);

} // namespace caravan::sync::server
