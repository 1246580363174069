// The dashboard's account rows in the embedded store's SQLite database (account_stores.hpp).

#include "account_stores.hpp"

#include "caravan/storage/transaction.hpp"

namespace caravan::sync::server {

namespace {

#define CARAVAN_ACCOUNT_COLUMNS "SELECT name, role, regions, created_at, settings FROM accounts"

Account read_account(const storage::Statement& row) {
    return account_from_row(row.column_text(0), row.column_text(1), row.column_text(2),
                            row.column_int(3), row.column_text(4));
}

} // namespace

Result<void> SqliteAccountStore::insert(const Account& account, std::string_view password_hash) {
    CARAVAN_TRY(tx, storage::Transaction::begin(m_db));
    CARAVAN_TRY(exists, m_db.query("SELECT 1 FROM accounts WHERE name = ?", account.name)
                            .one<std::int64_t>());
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

Result<bool> SqliteAccountStore::replace_password(std::string_view name,
                                                  std::string_view password_hash) {
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

Result<bool> SqliteAccountStore::remove(std::string_view name) {
    // The sessions go with it (ON DELETE CASCADE).
    CARAVAN_TRY_VOID(m_db.query("DELETE FROM accounts WHERE name = ?", name).run());
    return m_db.changes() != 0;
}

Result<std::vector<Account>> SqliteAccountStore::list() {
    return m_db.query(CARAVAN_ACCOUNT_COLUMNS " ORDER BY name").collect(read_account);
}

Result<std::optional<Account>> SqliteAccountStore::find(std::string_view name) {
    std::optional<Account> found;
    CARAVAN_TRY_VOID(m_db.query(CARAVAN_ACCOUNT_COLUMNS " WHERE name = ?", name)
                         .first([&](const storage::Statement& row) { found = read_account(row); }));
    return found;
}

Result<std::optional<std::string>> SqliteAccountStore::password_hash(std::string_view name) {
    return m_db.query("SELECT password_hash FROM accounts WHERE name = ?", name).one<std::string>();
}

Result<bool> SqliteAccountStore::set_stale_hours(std::string_view name, int hours) {
    CARAVAN_TRY_VOID(
        m_db.query("UPDATE accounts SET settings = json_set(settings, '$.stale_hours', ?)"
                   " WHERE name = ?",
                   static_cast<std::int64_t>(hours), name)
            .run());
    return m_db.changes() != 0;
}

Result<void> SqliteAccountStore::insert_session(std::string_view id_hash, std::string_view account,
                                                std::string_view csrf, std::int64_t now_ms) {
    return m_db
        .query("INSERT INTO account_sessions(id_hash, account, csrf, created_at, last_seen_at)"
               " VALUES(?, ?, ?, ?, ?)",
               id_hash, account, csrf, now_ms, now_ms)
        .run();
}

Result<std::optional<AccountStore::SessionRow>>
SqliteAccountStore::find_session(std::string_view id_hash) {
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

Result<void> SqliteAccountStore::touch_session(std::string_view id_hash, std::int64_t now_ms) {
    return m_db.query("UPDATE account_sessions SET last_seen_at = ? WHERE id_hash = ?", now_ms,
                      id_hash)
        .run();
}

Result<void> SqliteAccountStore::delete_session(std::string_view id_hash) {
    return m_db.query("DELETE FROM account_sessions WHERE id_hash = ?", id_hash).run();
}

Result<void> SqliteAccountStore::append_audit(const AuditEntry& entry) {
    return m_db
        .query("INSERT INTO audit_log(at, account, action, detail) VALUES(?, ?, ?, ?)", entry.at_ms,
               entry.account, entry.action, entry.detail)
        .run();
}

Result<std::vector<AuditEntry>> SqliteAccountStore::audit_log(std::size_t limit) {
    return m_db
        .query("SELECT at, account, action, detail FROM audit_log ORDER BY id DESC LIMIT ?",
               static_cast<std::int64_t>(limit))
        .collect([](const storage::Statement& row) {
            return AuditEntry{row.column_int(0), row.column_text(1), row.column_text(2),
                              row.column_text(3)};
        });
}

} // namespace caravan::sync::server
