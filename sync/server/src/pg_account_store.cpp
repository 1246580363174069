// The dashboard's account rows in PostgreSQL, shared by every server process on the database
// (account_stores.hpp; tables: migration 2 in pg_store.cpp).

#include "account_stores.hpp"

#include "pg_failures.hpp"

namespace caravan::sync::server {

namespace {

constexpr std::string_view k_account_columns =
    "SELECT name, role, regions, created_at, settings FROM accounts";

constexpr pg::FailureTable k_login_failures{
    "SELECT at FROM login_failures WHERE key = $1 AND at > $2"
    " ORDER BY at DESC OFFSET $3::bigint - 1 LIMIT 1",
    "DELETE FROM login_failures WHERE key = $1 AND at <= $2",
    "INSERT INTO login_failures(key, at) VALUES($1, $2)"};

std::vector<Account> read_accounts(const pg::Rows& rows) {
    std::vector<Account> out;
    for (int i = 0; i < rows.size(); ++i) {
        out.push_back(account_from_row(rows.text(i, 0), rows.text(i, 1), rows.text(i, 2),
                                       rows.int64(i, 3), rows.text(i, 4)));
    }
    return out;
}

class PgAccountStore final : public AccountStore {
  public:
    explicit PgAccountStore(pg::Pool& pool) : m_pool(pool) {}

    Result<void> insert(const Account& account, std::string_view password_hash) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        // A name taken meanwhile by another process: the primary key says conflict.
        return conn->run("INSERT INTO accounts(name, role, regions, password_hash, created_at)"
                         " VALUES($1, $2, $3, $4, $5)",
                         pg::params(account.name, to_string(account.role),
                                    regions_json(account.regions), password_hash,
                                    account.created_at_ms));
    }

    Result<bool> replace_password(std::string_view name, std::string_view password_hash) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
        CARAVAN_TRY(updated, conn->exec("UPDATE accounts SET password_hash = $1 WHERE name = $2",
                                        pg::params(password_hash, name)));
        if (updated.affected() == 0) {
            return false;
        }
        CARAVAN_TRY_VOID(
            conn->run("DELETE FROM account_sessions WHERE account = $1", pg::params(name)));
        CARAVAN_TRY_VOID(tx.commit());
        return true;
    }

    Result<bool> remove(std::string_view name) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        // The sessions go with it (ON DELETE CASCADE).
        CARAVAN_TRY(deleted, conn->exec("DELETE FROM accounts WHERE name = $1", pg::params(name)));
        return deleted.affected() != 0;
    }

    Result<std::vector<Account>> list() override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows,
                    conn->exec(std::string(k_account_columns) + " ORDER BY name COLLATE \"C\""));
        return read_accounts(rows);
    }

    Result<std::optional<Account>> find(std::string_view name) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows, conn->exec(std::string(k_account_columns) + " WHERE name = $1",
                                     pg::params(name)));
        auto found = read_accounts(rows);
        if (found.empty()) {
            return std::optional<Account>{};
        }
        return std::optional<Account>{std::move(found.front())};
    }

    Result<std::optional<std::string>> password_hash(std::string_view name) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows, conn->exec("SELECT password_hash FROM accounts WHERE name = $1",
                                     pg::params(name)));
        if (rows.empty()) {
            return std::optional<std::string>{};
        }
        return std::optional<std::string>{rows.text(0, 0)};
    }

    Result<bool> set_stale_hours(std::string_view name, int hours) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(updated, conn->exec("UPDATE accounts SET settings = jsonb_set(settings::jsonb,"
                                        " '{stale_hours}', to_jsonb($1::integer))::text"
                                        " WHERE name = $2",
                                        pg::params(hours, name)));
        return updated.affected() != 0;
    }

    Result<void> insert_session(std::string_view id_hash, std::string_view account,
                                std::string_view csrf, std::int64_t now_ms) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        return conn->run("INSERT INTO account_sessions(id_hash, account, csrf, created_at,"
                         " last_seen_at) VALUES($1, $2, $3, $4, $4)",
                         pg::params(id_hash, account, csrf, now_ms));
    }

    Result<std::optional<SessionRow>> find_session(std::string_view id_hash) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows, conn->exec("SELECT account, csrf, created_at, last_seen_at"
                                     " FROM account_sessions WHERE id_hash = $1",
                                     pg::params(id_hash)));
        if (rows.empty()) {
            return std::optional<SessionRow>{};
        }
        return std::optional<SessionRow>{
            SessionRow{rows.text(0, 0), rows.text(0, 1), rows.int64(0, 2), rows.int64(0, 3)}};
    }

    Result<void> touch_session(std::string_view id_hash, std::int64_t now_ms) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        // Two processes touching one session: the later time stays.
        return conn->run("UPDATE account_sessions SET last_seen_at = greatest(last_seen_at, $1)"
                         " WHERE id_hash = $2",
                         pg::params(now_ms, id_hash));
    }

    Result<void> delete_session(std::string_view id_hash) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        return conn->run("DELETE FROM account_sessions WHERE id_hash = $1", pg::params(id_hash));
    }

    Result<void> append_audit(const AuditEntry& entry) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        return conn->run(
            "INSERT INTO audit_log(at, account, action, detail) VALUES($1, $2, $3, $4)",
            pg::params(entry.at_ms, entry.account, entry.action, entry.detail));
    }

    Result<std::vector<AuditEntry>> audit_log(std::size_t limit) override {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows, conn->exec("SELECT at, account, action, detail FROM audit_log"
                                     " ORDER BY id DESC LIMIT $1",
                                     pg::params(static_cast<std::int64_t>(limit))));
        std::vector<AuditEntry> out;
        for (int i = 0; i < rows.size(); ++i) {
            out.push_back(
                AuditEntry{rows.int64(i, 0), rows.text(i, 1), rows.text(i, 2), rows.text(i, 3)});
        }
        return out;
    }

    Result<std::int64_t> login_wait_s(std::string_view key, std::size_t max_failures,
                                      std::int64_t window_ms, std::int64_t now_ms) override {
        return pg::failure_wait_s(m_pool, k_login_failures, key, max_failures, window_ms, now_ms);
    }

    Result<void> record_login_failure(std::string_view key, std::int64_t window_ms,
                                      std::int64_t now_ms) override {
        return pg::record_failure(m_pool, k_login_failures, key, window_ms, now_ms);
    }

  private:
    pg::Pool& m_pool;
};

} // namespace

std::unique_ptr<AccountStore> pg_account_store(pg::Pool& pool) {
    return std::make_unique<PgAccountStore>(pool);
}

} // namespace caravan::sync::server
