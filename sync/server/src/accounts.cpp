#include "caravan/sync/server/accounts.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "caravan/client/domain.hpp"
#include "caravan/client/text.hpp"
#include "caravan/sync/server/credentials.hpp"
#include "caravan/sync/server/device_registry.hpp"
#include "account_stores.hpp"

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

// A hash no password is checked against for real: an unknown name costs the same as a known one.
const std::string& decoy_hash() {
    static const std::string k_decoy = [] {
        return hash_password(random_hex(16)).value_or(std::string{});
    }();
    return k_decoy;
}

Result<void> not_found_unless(bool found, std::string_view name) {
    if (!found) {
        return fail(ErrorCode::not_found, "no account named " + std::string(name));
    }
    return {};
}

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

Account account_from_row(std::string name, std::string_view role, std::string_view regions,
                         std::int64_t created_at_ms, std::string_view settings) {
    Account a;
    a.name = std::move(name);
    a.role = parse_account_role(role).value_or(AccountRole::viewer);
    const json list = json::parse(regions, nullptr, false);
    if (list.is_array()) {
        for (const auto& r : list) {
            if (r.is_string()) {
                a.regions.push_back(r.get<std::string>());
            }
        }
    }
    a.created_at_ms = created_at_ms;
    const json parsed = json::parse(settings, nullptr, false);
    if (parsed.is_object()) {
        a.stale_hours = parsed.value("stale_hours", a.stale_hours);
    }
    return a;
}

std::string regions_json(const std::vector<std::string>& regions) {
    return json(regions).dump();
}

Accounts::Accounts(AccountStore& rows, std::function<std::int64_t()> clock)
    : m_rows(rows), m_clock(std::move(clock)) {}

Result<Account> Accounts::add(std::string_view name, AccountRole role,
                              const std::vector<std::string>& regions, std::string_view password) {
    if (!valid_name(name)) {
        return fail(ErrorCode::invalid_input,
                    "an account name is 1 to 64 of the characters A-Z a-z 0-9 . _ -");
    }
    Account account;
    for (const std::string& r : regions) {
        CARAVAN_TRY(region, client::validate_text("region", r, client::k_max_name_chars));
        account.regions.push_back(region);
    }
    CARAVAN_TRY(hash, hash_password(password));
    account.name = std::string(name);
    account.role = role;
    account.created_at_ms = m_clock();
    auto inserted = m_rows.insert(account, hash);
    if (!inserted && inserted.error().code == ErrorCode::conflict) {
        return fail(ErrorCode::conflict, "an account named " + std::string(name) + " exists");
    }
    CARAVAN_TRY_VOID(inserted);
    return account;
}

Result<void> Accounts::set_password(std::string_view name, std::string_view password) {
    CARAVAN_TRY(hash, hash_password(password));
    CARAVAN_TRY(found, m_rows.replace_password(name, hash));
    return not_found_unless(found, name);
}

Result<void> Accounts::remove(std::string_view name) {
    CARAVAN_TRY(found, m_rows.remove(name));
    return not_found_unless(found, name);
}

Result<std::vector<Account>> Accounts::list() {
    return m_rows.list();
}

Result<std::optional<Account>> Accounts::find(std::string_view name) {
    return m_rows.find(name);
}

Result<std::optional<Account>> Accounts::verify(std::string_view name, std::string_view password) {
    CARAVAN_TRY(stored, m_rows.password_hash(name));
    if (!stored) {
        (void)password_matches(decoy_hash(), password);
        return std::optional<Account>{};
    }
    if (!password_matches(*stored, password)) {
        return std::optional<Account>{};
    }
    return find(name);
}

Result<AccountSession> Accounts::open_session(const Account& account) {
    AccountSession session{random_hex(32), random_hex(32), m_clock()};
    CARAVAN_TRY_VOID(m_rows.insert_session(hash_secret(session.id), account.name, session.csrf,
                                           session.created_at_ms));
    return session;
}

Result<std::optional<Accounts::Found>> Accounts::find_session(std::string_view id,
                                                              const SessionLimits& limits) {
    if (id.size() != 64) {
        return std::optional<Found>{};
    }
    const std::string key = hash_secret(id);
    CARAVAN_TRY(row, m_rows.find_session(key));
    if (!row) {
        return std::optional<Found>{};
    }
    const std::int64_t now = m_clock();
    if (now - row->last_seen_ms > limits.idle_ms || now - row->created_at_ms > limits.absolute_ms) {
        CARAVAN_TRY_VOID(m_rows.delete_session(key));
        return std::optional<Found>{};
    }
    CARAVAN_TRY(found, find(row->account));
    if (!found) {
        return std::optional<Found>{};
    }
    CARAVAN_TRY_VOID(m_rows.touch_session(key, now));
    AccountSession session{"", std::move(row->csrf), row->created_at_ms};
    return std::optional<Found>{Found{std::move(*found), std::move(session)}};
}

Result<void> Accounts::close_session(std::string_view id) {
    return m_rows.delete_session(hash_secret(id));
}

Result<void> Accounts::set_stale_hours(std::string_view name, int hours) {
    if (hours < 1 || hours > 24 * 365) {
        return fail(ErrorCode::invalid_input, "the threshold must be 1 to 8760 hours");
    }
    CARAVAN_TRY(found, m_rows.set_stale_hours(name, hours));
    return not_found_unless(found, name);
}

Result<std::int64_t> Accounts::login_wait_s(std::string_view key, std::size_t max_failures,
                                            std::int64_t window_ms) {
    return m_rows.login_wait_s(hash_secret(key), max_failures, window_ms, m_clock());
}

Result<void> Accounts::record_login_failure(std::string_view key, std::int64_t window_ms) {
    return m_rows.record_login_failure(hash_secret(key), window_ms, m_clock());
}

Result<void> Accounts::audit(std::string_view account, std::string_view action,
                             std::string_view detail) {
    return m_rows.append_audit(
        AuditEntry{m_clock(), std::string(account), std::string(action), std::string(detail)});
}

Result<std::vector<AuditEntry>> Accounts::audit_log(std::size_t limit) {
    return m_rows.audit_log(limit);
}

} // namespace caravan::sync::server
