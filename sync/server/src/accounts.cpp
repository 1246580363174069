#include "caravan/sync/server/accounts.hpp"

#include <algorithm>
#include <mutex>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "caravan/client/domain.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/server/credentials.hpp"
#include "caravan/sync/server/device_registry.hpp"

namespace caravan::sync::server {

using nlohmann::json;

namespace {

bool valid_name(std::string_view name) {
    return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-';
    });
}

Result<std::string> hash_password(std::string_view password) {
    if (sodium_init() < 0) {
        return fail(ErrorCode::internal, "libsodium could not be initialised");
    }
    if (client::utf8_length(password) < k_min_password_chars) {
        return fail(ErrorCode::invalid_input, "the password must have at least " +
                                                  std::to_string(k_min_password_chars) +
                                                  " characters");
    }
    if (password.size() > k_max_password_bytes) {
        return fail(ErrorCode::invalid_input, "the password must have at most " +
                                                  std::to_string(k_max_password_bytes) + " bytes");
    }
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        return fail(ErrorCode::internal, "out of memory while hashing the password");
    }
    return std::string(out);
}

bool password_matches(const std::string& stored, std::string_view password) {
    return password.size() <= k_max_password_bytes &&
           crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

// The password's hash, and the write transaction that will store it.
struct HashedWrite {
    std::string hash;
    storage::Transaction tx;
};
Result<HashedWrite> begin_with_hash(storage::Database& db, std::string_view password) {
    auto hash = hash_password(password);
    if (!hash) {
        return tl::unexpected(hash.error());
    }
    auto tx = storage::Transaction::begin(db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    return HashedWrite{std::move(*hash), std::move(*tx)};
}

// A hash no password is checked against for real: an unknown name costs the same as a known one.
const std::string& decoy_hash() {
    static const std::string k_decoy = [] {
        return hash_password(random_hex(16)).value_or(std::string{});
    }();
    return k_decoy;
}

Account read_account(const storage::Statement& row) {
    Account a;
    a.name = row.column_text(0);
    a.role = parse_account_role(row.column_text(1)).value_or(AccountRole::viewer);
    const json regions = json::parse(row.column_text(2), nullptr, false);
    if (regions.is_array()) {
        for (const auto& r : regions) {
            if (r.is_string()) {
                a.regions.push_back(r.get<std::string>());
            }
        }
    }
    a.created_at_ms = row.column_int(3);
    const json settings = json::parse(row.column_text(4), nullptr, false);
    if (settings.is_object()) {
        a.stale_hours = settings.value("stale_hours", a.stale_hours);
    }
    return a;
}

#define CARAVAN_ACCOUNT_COLUMNS "SELECT name, role, regions, created_at, settings FROM accounts"

} // namespace

std::string_view to_string(AccountRole role) {
    return role == AccountRole::coordinator ? "coordinator" : "viewer";
}

std::optional<AccountRole> parse_account_role(std::string_view text) {
    if (text == "coordinator") {
        return AccountRole::coordinator;
    }
    if (text == "viewer") {
        return AccountRole::viewer;
    }
    return std::nullopt;
}

bool Account::sees(std::string_view region) const {
    if (regions.empty()) {
        return true;
    }
    const std::string key = region_key(region);
    return std::any_of(regions.begin(), regions.end(),
                       [&](const std::string& r) { return region_key(r) == key; });
}

Accounts::Accounts(storage::Database& db, std::function<std::int64_t()> clock)
    : m_db(db), m_clock(std::move(clock)) {}

Result<Account> Accounts::add(std::string_view name, AccountRole role,
                              const std::vector<std::string>& regions, std::string_view password) {
    if (!valid_name(name)) {
        return fail(ErrorCode::invalid_input,
                    "an account name is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
    }
    json list = json::array();
    for (const std::string& r : regions) {
        auto region = client::validate_text("region", r, client::k_max_name_chars);
        if (!region) {
            return tl::unexpected(region.error());
        }
        list.push_back(*region);
    }
    auto write = begin_with_hash(m_db, password);
    if (!write) {
        return tl::unexpected(write.error());
    }
    auto exists = m_db.query("SELECT 1 FROM accounts WHERE name = ?", name).one<std::int64_t>();
    if (!exists) {
        return tl::unexpected(exists.error());
    }
    if (*exists) {
        return fail(ErrorCode::conflict, "an account named " + std::string(name) + " exists");
    }
    const std::int64_t now = m_clock();
    if (auto ok = m_db.query("INSERT INTO accounts(name, role, regions, password_hash, created_at)"
                             " VALUES(?, ?, ?, ?, ?)",
                             name, to_string(role), list.dump(), write->hash, now)
                      .run();
        !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = write->tx.commit(); !ok) {
        return tl::unexpected(ok.error());
    }
    Account account;
    account.name = std::string(name);
    account.role = role;
    account.regions = list.get<std::vector<std::string>>();
    account.created_at_ms = now;
    return account;
}

Result<void> Accounts::set_password(std::string_view name, std::string_view password) {
    auto write = begin_with_hash(m_db, password);
    if (!write) {
        return tl::unexpected(write.error());
    }
    if (auto ok =
            m_db.query("UPDATE accounts SET password_hash = ? WHERE name = ?", write->hash, name)
                .run();
        !ok) {
        return ok;
    }
    if (m_db.changes() == 0) {
        return fail(ErrorCode::not_found, "no account named " + std::string(name));
    }
    if (auto ok = m_db.query("DELETE FROM account_sessions WHERE account = ?", name).run(); !ok) {
        return ok;
    }
    return write->tx.commit();
}

Result<void> Accounts::remove(std::string_view name) {
    if (auto ok = m_db.query("DELETE FROM accounts WHERE name = ?", name).run(); !ok) {
        return ok;
    }
    if (m_db.changes() == 0) {
        return fail(ErrorCode::not_found, "no account named " + std::string(name));
    }
    return {};
}

Result<std::vector<Account>> Accounts::list() {
    return m_db.query(CARAVAN_ACCOUNT_COLUMNS " ORDER BY name").collect(read_account);
}

Result<std::optional<Account>> Accounts::find(std::string_view name) {
    std::optional<Account> found;
    auto ok = m_db.query(CARAVAN_ACCOUNT_COLUMNS " WHERE name = ?", name)
                  .first([&](const storage::Statement& row) { found = read_account(row); });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return found;
}

Result<std::optional<Account>> Accounts::verify(std::string_view name, std::string_view password) {
    auto stored =
        m_db.query("SELECT password_hash FROM accounts WHERE name = ?", name).one<std::string>();
    if (!stored) {
        return tl::unexpected(stored.error());
    }
    if (!*stored) {
        (void)password_matches(decoy_hash(), password);
        return std::optional<Account>{};
    }
    if (!password_matches(**stored, password)) {
        return std::optional<Account>{};
    }
    return find(name);
}

Result<AccountSession> Accounts::open_session(const Account& account) {
    AccountSession session{random_hex(32), random_hex(32), m_clock()};
    if (auto ok = m_db.query("INSERT INTO account_sessions(id_hash, account, csrf, created_at,"
                             " last_seen_at) VALUES(?, ?, ?, ?, ?)",
                             hash_secret(session.id), account.name, session.csrf,
                             session.created_at_ms, session.created_at_ms)
                      .run();
        !ok) {
        return tl::unexpected(ok.error());
    }
    return session;
}

Result<std::optional<Accounts::Found>> Accounts::find_session(std::string_view id,
                                                              const SessionLimits& limits) {
    if (id.size() != 64) {
        return std::optional<Found>{};
    }
    const std::string key = hash_secret(id);
    std::optional<std::string> account;
    AccountSession session;
    std::int64_t last_seen = 0;
    auto ok = m_db.query("SELECT account, csrf, created_at, last_seen_at FROM account_sessions"
                         " WHERE id_hash = ?",
                         key)
                  .first([&](const storage::Statement& row) {
                      account = row.column_text(0);
                      session.csrf = row.column_text(1);
                      session.created_at_ms = row.column_int(2);
                      last_seen = row.column_int(3);
                  });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    if (!account) {
        return std::optional<Found>{};
    }
    const std::int64_t now = m_clock();
    if (now - last_seen > limits.idle_ms || now - session.created_at_ms > limits.absolute_ms) {
        if (auto closed = close_session(id); !closed) {
            return tl::unexpected(closed.error());
        }
        return std::optional<Found>{};
    }
    auto found = find(*account);
    if (!found) {
        return tl::unexpected(found.error());
    }
    if (!*found) {
        return std::optional<Found>{};
    }
    if (auto touched =
            m_db.query("UPDATE account_sessions SET last_seen_at = ? WHERE id_hash = ?", now, key)
                .run();
        !touched) {
        return tl::unexpected(touched.error());
    }
    return std::optional<Found>{Found{std::move(**found), std::move(session)}};
}

Result<void> Accounts::close_session(std::string_view id) {
    return m_db.query("DELETE FROM account_sessions WHERE id_hash = ?", hash_secret(id)).run();
}

Result<void> Accounts::set_stale_hours(std::string_view name, int hours) {
    if (hours < 1 || hours > 24 * 365) {
        return fail(ErrorCode::invalid_input, "the threshold must be 1 to 8760 hours");
    }
    return m_db
        .query("UPDATE accounts SET settings = json_set(settings, '$.stale_hours', ?)"
               " WHERE name = ?",
               static_cast<std::int64_t>(hours), name)
        .run();
}

Result<void> Accounts::audit(std::string_view account, std::string_view action,
                             std::string_view detail) {
    return m_db
        .query("INSERT INTO audit_log(at, account, action, detail) VALUES(?, ?, ?, ?)", m_clock(),
               account, action, detail)
        .run();
}

Result<std::vector<AuditEntry>> Accounts::audit_log(std::size_t limit) {
    return m_db
        .query("SELECT at, account, action, detail FROM audit_log ORDER BY id DESC LIMIT ?",
               static_cast<std::int64_t>(limit))
        .collect([](const storage::Statement& row) {
            return AuditEntry{row.column_int(0), row.column_text(1), row.column_text(2),
                              row.column_text(3)};
        });
}

} // namespace caravan::sync::server
