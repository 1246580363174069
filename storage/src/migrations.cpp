#include "caravan/storage/migrations.hpp"

#include <optional>

#include "caravan/storage/transaction.hpp"
#include "caravan/storage/messages.hpp"

namespace caravan::storage {

namespace {

Result<void> ensure_table(Database& db) {
    return db.exec("CREATE TABLE IF NOT EXISTS caravan_schema("
                   " component TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT");
}

} // namespace

Result<int> schema_version(Database& db, std::string_view component) {
    if (auto ok = ensure_table(db); !ok) {
        return tl::unexpected(ok.error());
    }
    CARAVAN_TRY(version,
                db.query("SELECT version FROM caravan_schema WHERE component = ?", component)
                    .one<int>());
    return version.value_or(0);
}

Result<void> migrate(Database& db, std::string_view component, std::span<const Migration> steps) {
    auto current = schema_version(db, component);
    if (!current) {
        return tl::unexpected(current.error());
    }
    int latest = steps.empty() ? 0 : steps.back().version;
    if (*current > latest) {
        return fail(ErrorCode::upgrade_required, msg::schema_too_new, component, *current, latest);
    }
    if (*current == latest) {
        return {};
    }
    // Join the caller's transaction when one is open (Engine::open migrates every component in
    // one, so that a refusal of a later component leaves the earlier ones untouched too).
    std::optional<Transaction> tx;
    if (!db.in_transaction()) {
        auto begun = Transaction::begin(db);
        if (!begun) {
            return tl::unexpected(begun.error());
        }
        tx.emplace(std::move(*begun));
    }
    // Re-read under the write lock: another process may have migrated meanwhile.
    current = schema_version(db, component);
    if (!current) {
        return tl::unexpected(current.error());
    }
    for (const Migration& step : steps) {
        if (step.version <= *current) {
            continue;
        }
        if (!step.sql.empty()) {
            if (auto ok = db.exec(step.sql); !ok) {
                return fail(ok.error().code, msg::migration_failed, component, step.version,
                            ok.error());
            }
        }
        if (step.step) {
            if (auto ok = step.step(db); !ok) {
                return ok;
            }
        }
    }
    CARAVAN_TRY_VOID(db.query("INSERT INTO caravan_schema(component, version) VALUES(?, ?)"
                              " ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                              component, latest)
                         .run());
    return tx ? tx->commit() : Result<void>();
}

} // namespace caravan::storage
