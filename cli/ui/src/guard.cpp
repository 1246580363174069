#include "caravan/ui/guard.hpp"

#include <algorithm>
#include <array>

#include <sodium.h>

namespace caravan::ui {
namespace {

// "HOST:PORT" with HOST one of the loopback names.
bool names_loopback(std::string_view authority, int port) {
    const std::string suffix = ":" + std::to_string(port);
    if (authority.size() <= suffix.size() || !authority.ends_with(suffix)) {
        return false;
    }
    std::string host(authority.substr(0, authority.size() - suffix.size()));
    std::transform(host.begin(), host.end(), host.begin(),
                   [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

} // namespace

bool host_allowed(std::string_view host, int port) {
    return names_loopback(host, port);
}

bool origin_allowed(std::string_view origin, int port) {
    constexpr std::string_view scheme = "http://";
    if (!origin.starts_with(scheme)) {
        return false;
    }
    origin.remove_prefix(scheme.size());
    if (const auto slash = origin.find('/'); slash != std::string_view::npos) {
        origin = origin.substr(0, slash);
    }
    return names_loopback(origin, port);
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
    while (!header.empty()) {
        const auto semi = header.find(';');
        std::string_view pair = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') {
            pair.remove_prefix(1);
        }
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
            return std::string(pair.substr(eq + 1));
        }
    }
    return std::nullopt;
}

bool same_secret(std::string_view a, std::string_view b) {
    if (a.size() != b.size() || a.empty()) {
        return false;
    }
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_token() {
    std::array<unsigned char, 32> bytes{};
    randombytes_buf(bytes.data(), bytes.size());
    std::array<char, 65> hex{};
    sodium_bin2hex(hex.data(), hex.size(), bytes.data(), bytes.size());
    return std::string(hex.data(), 64);
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
