#pragma once
// The coordinator's dashboard (docs/dashboard.md): web pages that `caravan-server serve` answers
// on the API's own port (and TLS), mounted through ServerOptions::front_end. The server knows
// nothing of it; it knows the server only through FrontEndContext.
//
// Contract (docs/security.md, "The coordinator's dashboard"):
// - Nothing but /login, /lang and /static/ answers without a session. A session is opened by
//   logging in with an account made by `caravan-server user add`; its cookie is HttpOnly,
//   SameSite=Strict, Secure under TLS; it ends after `sessions.idle_ms` without a request,
//   `sessions.absolute_ms` after login, or at logout. A device's bearer token opens nothing.
// - Failed logins are counted per account and per client address in a sliding window; past
//   the limit, logins are refused (even with the right password) for the rest of the window and
//   the page says for how many minutes.
// - Every POST (the login form too) carries a CSRF token and must come from this server's own
//   page (Origin, Sec-Fetch-Site); otherwise 403 and nothing is written. No CORS header is sent;
//   every answer carries a strict Content-Security-Policy.
// - A viewer account sees and downloads but changes nothing; an account with regions sees
//   only devices of those regions and issues codes only for them. Every action (login, failed
//   login, logout, code issued, device revoked, threshold set) is written to the audit log:
//   who, when, what, with no personal data.
// - Reads use a Store lent from the server's pool; only the short writes of an action take the
//   server's write lock.

#include <cstddef>
#include <cstdint>

#include "caravan/client/domain.hpp"
#include "caravan/sync/server/accounts.hpp"
#include "caravan/sync/server/server.hpp"

namespace caravan::dashboard {

struct DashboardOptions {
    client::Lang lang = client::Lang::kk; // until the user picks one (a cookie remembers it)
    sync::server::SessionLimits sessions;
    // Failed logins within the window before logins are refused: per account, per address.
    std::size_t max_failures_per_account = 5;
    std::size_t max_failures_per_address = 20;
    std::int64_t failure_window_ms = 15 * 60 * 1000;
};

// The dashboard, for ServerOptions::front_end (caravan-server's main installs it).
[[nodiscard]] sync::server::FrontEnd front_end(DashboardOptions options = {});

} // namespace caravan::dashboard
