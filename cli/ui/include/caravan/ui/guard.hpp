#pragma once
// Who may reach the lawyer's app (docs/security.md, "The lawyer's app"): the checks every
// request passes before any handler runs. Pure functions and one small table, so that each
// rule is tested on its own (tests/ui/guard_test.cpp) as well as through the real server.
//
// The rules, after Syncthing's local GUI and CUPS:
// - The server listens on 127.0.0.1 only.
// - Host must name this server on loopback (127.0.0.1:PORT, localhost:PORT, [::1]:PORT):
//   a page on another site that rebinds its own name to 127.0.0.1 sends its own Host and is
//   refused (DNS rebinding).
// - A browser first arrives with the launch secret in the URL (`/?k=SECRET`, printed and opened
//   by `caravan ui`); the secret is exchanged for a session cookie (HttpOnly, SameSite=Strict)
//   and the browser is sent on to the same page without it. Without a valid session nothing
//   but that exchange answers.
// - Every state change is a POST carrying the session's CSRF token; a POST whose Origin (or
//   Sec-Fetch-Site) says it comes from another site is refused even with a token.
// - No CORS header is ever sent; every answer carries a strict Content-Security-Policy.
// The primitives (cookies, tokens, headers, same-origin posts) are the web front ends' shared
// ones (caravan/web/guard.hpp); what is here is the lawyer's app's own: loopback and the
// launch secret.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/web/guard.hpp"

namespace caravan::ui {

using web::cookie_value;
using web::k_csrf_field;
using web::random_token;
using web::same_secret;

// True when `host` (a Host header) names this server on loopback at `port`.
[[nodiscard]] bool host_allowed(std::string_view host, int port);
// True when `origin` (an Origin header, or a Referer's scheme://host:port) is this server.
[[nodiscard]] bool origin_allowed(std::string_view origin, int port);

inline constexpr std::string_view k_session_cookie = "caravan_ui";

struct Session {
    std::string id;
    std::string csrf;
};

// The launch secret and the sessions it has opened. Bounded: the oldest session is forgotten
// past `max_sessions`. Thread-safe.
class Sessions {
  public:
    explicit Sessions(std::string launch_secret, std::size_t max_sessions = 16);

    [[nodiscard]] const std::string& launch_secret() const { return m_secret; }
    // A new session when `secret` is the launch secret; nullopt otherwise.
    [[nodiscard]] std::optional<Session> open(std::string_view secret);
    // The session a cookie value names; nullopt when unknown.
    [[nodiscard]] std::optional<Session> find(std::string_view id) const;

  private:
    std::string m_secret;
    std::size_t m_max;
    mutable std::mutex m_mutex;
    std::vector<Session> m_sessions; // oldest first
};

} // namespace caravan::ui
