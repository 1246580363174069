#pragma once
// Wrong attempts per key in a sliding window, kept in a PostgreSQL table so that every server
// process counts them (enrollment codes per address, dashboard logins per hashed key).
//
// Contract:
// - `table` names the statements of one table (constants of the program, values as parameters
//   $1...): wait_s returns the seconds until the max_failures-th newest failure within the
//   window leaves it (0: none); record prunes the key's failures older than the window, then
//   adds one (the table stays bounded by the keys that failed lately).

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "caravan/sync/server/pg.hpp"

namespace caravan::sync::server::pg {

struct FailureTable {
    std::string_view nth_newest; // $1 key, $2 window start, $3 n: the n-th newest's `at`
    std::string_view prune;      // $1 key, $2 window start
    std::string_view insert;     // $1 key, $2 now
};

[[nodiscard]] inline Result<std::int64_t>
failure_wait_s(Pool& pool, const FailureTable& table, std::string_view key,
               std::size_t max_failures, std::int64_t window_ms, std::int64_t now_ms) {
    CARAVAN_TRY(conn, pool.acquire());
    CARAVAN_TRY(rows,
                conn->exec(table.nth_newest, params(key, now_ms - window_ms,
                                                    static_cast<std::int64_t>(
                                                        std::max<std::size_t>(1, max_failures)))));
    if (rows.empty()) {
        return 0;
    }
    return std::max<std::int64_t>(1, (rows.int64(0, 0) + window_ms - now_ms + 999) / 1000);
}

[[nodiscard]] inline Result<void> record_failure(Pool& pool, const FailureTable& table,
                                                 std::string_view key, std::int64_t window_ms,
                                                 std::int64_t now_ms) {
    CARAVAN_TRY(conn, pool.acquire());
    CARAVAN_TRY_VOID(conn->run(table.prune, params(key, now_ms - window_ms)));
    return conn->run(table.insert, params(key, now_ms));
}

} // namespace caravan::sync::server::pg
