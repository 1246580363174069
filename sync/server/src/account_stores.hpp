#pragma once
// The two homes of the dashboard's account rows (AccountStore, accounts.hpp): the embedded
// store's SQLite database and the PostgreSQL database that every server process shares.
//
// Contract:
// - SqliteAccountStore works on one Store's connection, one thread at a time; its login
//   failures are the process's own limiter's business (login_wait_s is 0, nothing recorded).
// - PgAccountStore takes a connection from the pool for each call and returns it; a call that
//   writes more than one row does so in one transaction.

#include <functional>
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

class SqliteAccountStore final : public AccountStore {
  public:
    explicit SqliteAccountStore(storage::Database& db) : m_db(db) {}

    [[nodiscard]] Result<void> insert(const Account& account,
                                      std::string_view password_hash) override;
    [[nodiscard]] Result<bool> replace_password(std::string_view name,
                                                std::string_view password_hash) override;
    [[nodiscard]] Result<bool> remove(std::string_view name) override;
    [[nodiscard]] Result<std::vector<Account>> list() override;
    [[nodiscard]] Result<std::optional<Account>> find(std::string_view name) override;
    [[nodiscard]] Result<std::optional<std::string>> password_hash(std::string_view name) override;
    [[nodiscard]] Result<bool> set_stale_hours(std::string_view name, int hours) override;
    [[nodiscard]] Result<void> insert_session(std::string_view id_hash, std::string_view account,
                                              std::string_view csrf, std::int64_t now_ms) override;
    [[nodiscard]] Result<std::optional<SessionRow>>
    find_session(std::string_view id_hash) override;
    [[nodiscard]] Result<void> touch_session(std::string_view id_hash,
                                             std::int64_t now_ms) override;
    [[nodiscard]] Result<void> delete_session(std::string_view id_hash) override;
    [[nodiscard]] Result<void> append_audit(const AuditEntry& entry) override;
    [[nodiscard]] Result<std::vector<AuditEntry>> audit_log(std::size_t limit) override;
    [[nodiscard]] Result<std::int64_t> login_wait_s(std::string_view, std::size_t, std::int64_t,
                                                    std::int64_t) override {
        return 0;
    }
    [[nodiscard]] Result<void> record_login_failure(std::string_view, std::int64_t,
                                                    std::int64_t) override {
        return {};
    }

  private:
    storage::Database& m_db;
};

class PgAccountStore final : public AccountStore {
  public:
    explicit PgAccountStore(pg::Pool& pool) : m_pool(pool) {}

    [[nodiscard]] Result<void> insert(const Account& account,
                                      std::string_view password_hash) override;
    [[nodiscard]] Result<bool> replace_password(std::string_view name,
                                                std::string_view password_hash) override;
    [[nodiscard]] Result<bool> remove(std::string_view name) override;
    [[nodiscard]] Result<std::vector<Account>> list() override;
    [[nodiscard]] Result<std::optional<Account>> find(std::string_view name) override;
    [[nodiscard]] Result<std::optional<std::string>> password_hash(std::string_view name) override;
    [[nodiscard]] Result<bool> set_stale_hours(std::string_view name, int hours) override;
    [[nodiscard]] Result<void> insert_session(std::string_view id_hash, std::string_view account,
                                              std::string_view csrf, std::int64_t now_ms) override;
    [[nodiscard]] Result<std::optional<SessionRow>>
    find_session(std::string_view id_hash) override;
    [[nodiscard]] Result<void> touch_session(std::string_view id_hash,
                                             std::int64_t now_ms) override;
    [[nodiscard]] Result<void> delete_session(std::string_view id_hash) override;
    [[nodiscard]] Result<void> append_audit(const AuditEntry& entry) override;
    [[nodiscard]] Result<std::vector<AuditEntry>> audit_log(std::size_t limit) override;
    [[nodiscard]] Result<std::int64_t> login_wait_s(std::string_view key, std::size_t max_failures,
                                                    std::int64_t window_ms,
                                                    std::int64_t now_ms) override;
    [[nodiscard]] Result<void> record_login_failure(std::string_view key, std::int64_t window_ms,
                                                    std::int64_t now_ms) override;

  private:
    pg::Pool& m_pool;
};

} // namespace caravan::sync::server
