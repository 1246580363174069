#pragma once
// Versioned schema migrations, per component. Each component (the event log, the client's
// projections, the server's tables) owns an ordered list of steps; the version reached is kept
// in table `caravan_schema`. All pending steps of one call run in one transaction (the caller's
// when one is open, so several components can migrate together): a database is either fully
// upgraded or untouched.

#include <functional>
#include <span>
#include <string_view>

#include "caravan/storage/database.hpp"

namespace caravan::storage {

struct Migration {
    int version;                 // 1, 2, 3, ... without gaps
    std::string_view sql;        // run with exec(); may be empty when `step` is set
    std::function<Result<void>(Database&)> step = {}; // optional code run after `sql`
};

// Brings `component` to the last version in `steps`. Refuses (upgrade_required) a database
// whose recorded version is newer than this program knows.
[[nodiscard]] Result<void> migrate(Database& db, std::string_view component,
                                   std::span<const Migration> steps);

[[nodiscard]] Result<int> schema_version(Database& db, std::string_view component);

} // namespace caravan::storage
