#pragma once
// The guard's primitives, shared by both web front ends (the lawyer's app, caravan/ui/guard.hpp,
// and the coordinator's dashboard, cli/dashboard): each front end decides who may reach it, and
// builds its rules from these. Pure functions, tested on their own (tests/ui, tests/dashboard).
//
// - Cookies are read by exact name (a cookie whose name merely ends in it is not it).
// - Secrets and tokens are compared in constant time and are 32 random bytes (libsodium).
// - Every answer carries the same strict headers: nothing loaded from anywhere but the server
//   itself, no framing, no MIME sniffing, no caching; no Access-Control-* header is ever set.
// - A state change is a POST from the front end's own page: its Origin, when sent, is the
//   server's own, and Sec-Fetch-Site, when sent, says same-origin; it carries the session's
//   CSRF token in the form field k_csrf_field.

#include <optional>
#include <string>
#include <string_view>

#include "caravan/storage/message.hpp"

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

namespace caravan::web {

inline constexpr std::string_view k_csrf_field = "csrf";

// The value of cookie `name` in a Cookie header; nullopt when absent.
[[nodiscard]] std::optional<std::string> cookie_value(std::string_view header,
                                                      std::string_view name);
// Equal in constant time for equal lengths (secrets and tokens); never for empty ones.
[[nodiscard]] bool same_secret(std::string_view a, std::string_view b);
// 32 random bytes as 64 lowercase hex characters (libsodium).
[[nodiscard]] std::string random_token();

// True when `origin` (an Origin header, or a Referer: scheme://host[:port][/...]) has `scheme`
// and a host accepted by `host_ok` (given "host:port" or "host", compared as sent).
template <typename HostOk>
[[nodiscard]] bool origin_matches(std::string_view origin, std::string_view scheme,
                                  HostOk&& host_ok) {
    if (!origin.starts_with(scheme) || !origin.substr(scheme.size()).starts_with("://")) {
        return false;
    }
    origin.remove_prefix(scheme.size() + 3);
    if (const auto slash = origin.find('/'); slash != std::string_view::npos) {
        origin = origin.substr(0, slash);
    }
    return !origin.empty() && host_ok(origin);
}
// ASCII lower case (host names compare without case).
[[nodiscard]] std::string lower_ascii(std::string_view text);

// The CSRF token a POST carries (an urlencoded or a multipart form's k_csrf_field); empty when
// none.
[[nodiscard]] std::string csrf_token(const httplib::Request& req);
// True when a POST says it comes from the server's own pages: Sec-Fetch-Site, when sent, is
// same-origin, and the Origin header, when sent, is accepted by `origin_ok`.
template <typename OriginOk>
[[nodiscard]] bool same_origin_post(std::string_view origin, std::string_view fetch_site,
                                    OriginOk&& origin_ok) {
    return (origin.empty() || origin_ok(origin)) &&
           (fetch_site.empty() || fetch_site == "same-origin");
}

// Sets the strict headers every answer carries (see above).
void set_security_headers(httplib::Response& res);
// A refusal before any language is known: the sentence in all three, as an HTML page.
[[nodiscard]] std::string refusal_page(const Message& message);

} // namespace caravan::web
