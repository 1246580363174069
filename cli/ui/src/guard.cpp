#include "caravan/ui/guard.hpp"

#include <algorithm>

namespace caravan::ui {
namespace {

// "HOST:PORT" with HOST one of the loopback names.
bool names_loopback(std::string_view authority, int port) {
    const std::string suffix = ":" + std::to_string(port);
    if (authority.size() <= suffix.size() || !authority.ends_with(suffix)) {
        return false;
    }
    const std::string host = web::lower_ascii(authority.substr(0, authority.size() - suffix.size()));
    return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

} // namespace

bool host_allowed(std::string_view host, int port) {
    return names_loopback(host, port);
}

bool origin_allowed(std::string_view origin, int port) {
    return web::origin_matches(origin, "http",
                               [port](std::string_view host) { return names_loopback(host, port); });
}

Sessions::Sessions(std::string launch_secret, std::size_t max_sessions)
    : m_secret(std::move(launch_secret)), m_max(std::max<std::size_t>(1, max_sessions)) {}

std::optional<Session> Sessions::open(std::string_view secret) {
    if (!same_secret(secret, m_secret)) {
        return std::nullopt;
    }
    Session session{random_token(), random_token()};
    const std::lock_guard lock(m_mutex);
    if (m_sessions.size() >= m_max) {
        m_sessions.erase(m_sessions.begin());
    }
    m_sessions.push_back(session);
    return session;
}

std::optional<Session> Sessions::find(std::string_view id) const {
    const std::lock_guard lock(m_mutex);
    for (const auto& s : m_sessions) {
        if (same_secret(s.id, id)) {
            return s;
        }
    }
    return std::nullopt;
}

} // namespace caravan::ui
