// The dashboard's account rows in the embedded store's SQLite database (account_stores.hpp):
// one Store's connection, one thread at a time.

#include "account_stores.hpp"

#include "caravan/storage/transaction.hpp"

namespace caravan::sync::server {

namespace {

#define CARAVAN_ACCOUNT_COLUMNS "SELECT name, role, regions, created_at, settings FROM accounts"

Account read_account(const storage::Statement& row) {
    return account_from_row(row.column_text(0), row.column_text(1), row.column_text(2),
                            row.column_int(3), row.column_text(4));
}

class SqliteAccountStore final : public AccountStore {
  public:
    explicit SqliteAccountStore(storage::Database& db) : m_db(db) {}

    Result<void> insert(const Account& account, std::string_view password_hash) override {
        CARAVAN_TRY(tx, storage::Transaction::begin(m_db));
        CARAVAN_TRY(
            exists,
            m_db.query("SELECT 1 FROM accounts WHERE name = ?", account.name).one<std::int64_t>());
        if (exists) {
            return fail(ErrorCode::conflict, "the account exists");
        }
        CARAVAN_TRY_VOID(m_db.query("INSERT INTO accounts(name, role, regions, password_hash,"
                                    " created_at) VALUES(?, ?, ?, ?, ?)",
                                    account.name, to_string(account.role),
                                    regions_json(account.regions), password_hash,
                                    account.created_at_ms)
                             .run());
        return tx.commit();
    }

    Result<bool> replace_password(std::string_view name, std::string_view password_hash) override {
        CARAVAN_TRY(tx, storage::Transaction::begin(m_db));
        CARAVAN_TRY_VOID(
            m_db.query("UPDATE accounts SET password_hash = ? WHERE name = ?", password_hash, name)
                .run());
        if (m_db.changes() == 0) {
            return false;
        }
        CARAVAN_TRY_VOID(m_db.query("DELETE FROM account_sessions WHERE account = ?", name).run());
        CARAVAN_TRY_VOID(tx.commit());
        return true;
    }

    Result<bool> remove(std::string_view name) override {
        // The sessions go with it (ON DELETE CASCADE).
        CARAVAN_TRY_VOID(m_db.query("DELETE FROM accounts WHERE name = ?", name).run());
        return m_db.changes() != 0;
    }

    Result<std::vector<Account>> list() override {
        return m_db.query(CARAVAN_ACCOUNT_COLUMNS " ORDER BY name").collect(read_account);
    }

    Result<std::optional<Account>> find(std::string_view name) override {
        std::optional<Account> found;
        CARAVAN_TRY_VOID(
            m_db.query(CARAVAN_ACCOUNT_COLUMNS " WHERE name = ?", name)
                .first([&](const storage::Statement& row) { found = read_account(row); }));
        return found;
    }

    Result<std::optional<std::string>> password_hash(std::string_view name) override {
        return m_db.query("SELECT password_hash FROM accounts WHERE name = ?", name)
            .one<std::string>();
    }

    Result<bool> set_stale_hours(std::string_view name, int hours) override {
        CARAVAN_TRY_VOID(
            m_db.query("UPDATE accounts SET settings = json_set(settings, '$.stale_hours', ?)"
                       " WHERE name = ?",
                       static_cast<std::int64_t>(hours), name)
                .run());
        return m_db.changes() != 0;
    }

    Result<void> insert_session(std::string_view id_hash, std::string_view account,
                                std::string_view csrf, std::int64_t now_ms) override {
        return m_db
            .query("INSERT INTO account_sessions(id_hash, account, csrf, created_at, last_seen_at)"
                   " VALUES(?, ?, ?, ?, ?)",
                   id_hash, account, csrf, now_ms, now_ms)
            .run();
    }

    Result<std::optional<SessionRow>> find_session(std::string_view id_hash) override {
        std::optional<SessionRow> found;
        CARAVAN_TRY_VOID(m_db.query("SELECT account, csrf, created_at, last_seen_at"
                                    " FROM account_sessions WHERE id_hash = ?",
                                    id_hash)
                             .first([&](const storage::Statement& row) {
                                 found = SessionRow{row.column_text(0), row.column_text(1),
                                                    row.column_int(2), row.column_int(3)};
                             }));
        return found;
    }

    Result<void> touch_session(std::string_view id_hash, std::int64_t now_ms) override {
        return m_db
            .query("UPDATE account_sessions SET last_seen_at = ? WHERE id_hash = ?", now_ms,
                   id_hash)
            .run();
    }

    Result<void> delete_session(std::string_view id_hash) override {
        return m_db.query("DELETE FROM account_sessions WHERE id_hash = ?", id_hash).run();
    }

    Result<void> append_audit(const AuditEntry& entry) override {
        return m_db
            .query("INSERT INTO audit_log(at, account, action, detail) VALUES(?, ?, ?, ?)",
                   entry.at_ms, entry.account, entry.action, entry.detail)
            .run();
    }

    Result<std::vector<AuditEntry>> audit_log(std::size_t limit) override {
        return m_db
            .query("SELECT at, account, action, detail FROM audit_log ORDER BY id DESC LIMIT ?",
                   static_cast<std::int64_t>(limit))
            .collect([](const storage::Statement& row) {
                return AuditEntry{row.column_int(0), row.column_text(1), row.column_text(2),
                                  row.column_text(3)};
            });
    }

    // One process serves the embedded store: its own limiter counts the wrong logins.
    Result<std::int64_t> login_wait_s(std::string_view, std::size_t, std::int64_t,
                                      std::int64_t) override {
        return 0;
    }

    Result<void> record_login_failure(std::string_view, std::int64_t, std::int64_t) override {
        return {};
    }

  private:
    storage::Database& m_db;
};

} // namespace

std::unique_ptr<AccountStore> sqlite_account_store(storage::Database& db) {
    return std::make_unique<SqliteAccountStore>(db);
}

} // namespace caravan::sync::server
