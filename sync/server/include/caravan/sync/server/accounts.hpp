#pragma once
// The people who log in to the coordinator's dashboard (docs/dashboard.md, docs/security.md
// "The coordinator's dashboard"). Their rows live in the server's store, behind AccountStore:
// the embedded store's SQLite (migration 4 in src/store.cpp) or PostgreSQL (migration 2 in
// src/pg_store.cpp), where every server process on the database shares them:
//   accounts          name, role (coordinator | viewer), regions (none: every region),
//                     Argon2id password hash, settings (the stale-sync threshold)
//   account_sessions  hashed session ids with their CSRF token, created and last seen
//   audit_log         who did what when: an action word and a detail without personal data
//   login_failures    (PostgreSQL only) wrong logins per hashed key, seen by every process
// Accounts are made by the operator on the server machine (`caravan-server user ...`); there is
// no HTTP route that creates one.
//
// Contract:
// - Works on a Store's account rows (Store::accounts()), one thread at a time.
// - A password is never stored, logged or returned: only libsodium's crypto_pwhash_str
//   (Argon2id, "interactive" limits) of it. verify() costs one hash whether or not the account
//   exists, so its time does not tell which names exist.
// - A session id is 32 random bytes, shown once (open_session) and stored as its SHA-256. A
//   session ends when idle longer than limits.idle_ms, older than limits.absolute_ms, closed
//   (logout), or when its account's password changes or the account is removed.
// - Errors are Error values in English (the operator's CLI and the server's own words); none
//   names a password.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::sync::server {

enum class AccountRole { coordinator, viewer };
[[nodiscard]] std::string_view to_string(AccountRole role);
[[nodiscard]] std::optional<AccountRole> parse_account_role(std::string_view text);

struct Account {
    std::string name;
    AccountRole role = AccountRole::viewer;
    std::vector<std::string> regions; // empty: every region
    std::int64_t created_at_ms = 0;
    int stale_hours = 48; // a device's last sync older than this is highlighted
    // True when the account may see `region` (compared by region_key).
    [[nodiscard]] bool sees(std::string_view region) const;
};

struct SessionLimits {
    std::int64_t idle_ms = 30 * 60 * 1000;          // 30 minutes without a request
    std::int64_t absolute_ms = 12 * 60 * 60 * 1000; // 12 hours after login
};

struct AccountSession {
    std::string id; // in clear only from open_session
    std::string csrf;
    std::int64_t created_at_ms = 0;
};

struct AuditEntry {
    std::int64_t at_ms = 0;
    std::string account;
    std::string action;
    std::string detail;
};

inline constexpr std::size_t k_min_password_chars = 10;
inline constexpr std::size_t k_max_password_bytes = 1024;

// The rows behind Accounts, one implementation per store (src/account_stores.hpp). Values
// arrive validated and hashed: this layer only stores and reads them. Each call is atomic; the
// SQL has its values as parameters only.
class AccountStore {
  public:
    virtual ~AccountStore() = default;

    // conflict when the name exists.
    [[nodiscard]] virtual Result<void> insert(const Account& account,
                                              std::string_view password_hash) = 0;
    // Replaces the hash and deletes the account's sessions at once; false: no such account.
    [[nodiscard]] virtual Result<bool> replace_password(std::string_view name,
                                                        std::string_view password_hash) = 0;
    // Deletes the account and its sessions; false: no such account.
    [[nodiscard]] virtual Result<bool> remove(std::string_view name) = 0;
    [[nodiscard]] virtual Result<std::vector<Account>> list() = 0; // by name
    [[nodiscard]] virtual Result<std::optional<Account>> find(std::string_view name) = 0;
    [[nodiscard]] virtual Result<std::optional<std::string>>
    password_hash(std::string_view name) = 0;
    // false: no such account.
    [[nodiscard]] virtual Result<bool> set_stale_hours(std::string_view name, int hours) = 0;

    struct SessionRow {
        std::string account;
        std::string csrf;
        std::int64_t created_at_ms = 0;
        std::int64_t last_seen_ms = 0;
    };
    [[nodiscard]] virtual Result<void> insert_session(std::string_view id_hash,
                                                      std::string_view account,
                                                      std::string_view csrf,
                                                      std::int64_t now_ms) = 0;
    [[nodiscard]] virtual Result<std::optional<SessionRow>>
    find_session(std::string_view id_hash) = 0;
    [[nodiscard]] virtual Result<void> touch_session(std::string_view id_hash,
                                                     std::int64_t now_ms) = 0;
    [[nodiscard]] virtual Result<void> delete_session(std::string_view id_hash) = 0;

    [[nodiscard]] virtual Result<void> append_audit(const AuditEntry& entry) = 0;
    [[nodiscard]] virtual Result<std::vector<AuditEntry>> audit_log(std::size_t limit) = 0;

    // Wrong logins under `key` that every process on the store sees: the seconds to wait (0:
    // none) when `max_failures` of them fall within `window_ms` before `now_ms`. The embedded
    // store serves one process, whose own limiter counts them: 0 and nothing recorded there.
    [[nodiscard]] virtual Result<std::int64_t> login_wait_s(std::string_view key,
                                                            std::size_t max_failures,
                                                            std::int64_t window_ms,
                                                            std::int64_t now_ms) = 0;
    // Counts one; failures older than the window are forgotten (bounded).
    [[nodiscard]] virtual Result<void> record_login_failure(std::string_view key,
                                                            std::int64_t window_ms,
                                                            std::int64_t now_ms) = 0;
};

class Accounts {
  public:
    // `rows` must outlive this; `clock` is Unix ms.
    Accounts(AccountStore& rows, std::function<std::int64_t()> clock);

    // ---- operator --------------------------------------------------------------------------
    // invalid_input: a bad name (1 to 64 of A-Z a-z 0-9 . _ -), region or password (at least
    // k_min_password_chars characters, at most k_max_password_bytes bytes); conflict: the name
    // exists.
    [[nodiscard]] Result<Account> add(std::string_view name, AccountRole role,
                                      const std::vector<std::string>& regions,
                                      std::string_view password);
    // Replaces the password and ends the account's sessions. not_found when there is none.
    [[nodiscard]] Result<void> set_password(std::string_view name, std::string_view password);
    // Removes the account and its sessions (its audit entries stay). not_found when none.
    [[nodiscard]] Result<void> remove(std::string_view name);
    [[nodiscard]] Result<std::vector<Account>> list();
    [[nodiscard]] Result<std::optional<Account>> find(std::string_view name);

    // ---- login -----------------------------------------------------------------------------
    // The account when `password` is its password; nullopt otherwise (unknown name included).
    [[nodiscard]] Result<std::optional<Account>> verify(std::string_view name,
                                                        std::string_view password);
    [[nodiscard]] Result<AccountSession> open_session(const Account& account);
    // The session `id` names and its account, its last-seen time moved to now; nullopt when
    // unknown or expired (an expired one is deleted).
    struct Found {
        Account account;
        AccountSession session;
    };
    [[nodiscard]] Result<std::optional<Found>> find_session(std::string_view id,
                                                            const SessionLimits& limits);
    [[nodiscard]] Result<void> close_session(std::string_view id);
    [[nodiscard]] Result<void> set_stale_hours(std::string_view name, int hours);

    // ---- login failures shared by the server's processes -----------------------------------
    // `key` (an address, or a typed name: it may hold a password) is stored only as its
    // SHA-256. See AccountStore::login_wait_s.
    [[nodiscard]] Result<std::int64_t> login_wait_s(std::string_view key,
                                                    std::size_t max_failures,
                                                    std::int64_t window_ms);
    [[nodiscard]] Result<void> record_login_failure(std::string_view key, std::int64_t window_ms);

    // ---- audit -----------------------------------------------------------------------------
    // `detail` must hold no personal data (short device ids, regions, formats, counts).
    [[nodiscard]] Result<void> audit(std::string_view account, std::string_view action,
                                     std::string_view detail);
    // The newest `limit` entries, newest first.
    [[nodiscard]] Result<std::vector<AuditEntry>> audit_log(std::size_t limit);

  private:
    AccountStore& m_rows;
    std::function<std::int64_t()> m_clock;
};

} // namespace caravan::sync::server
