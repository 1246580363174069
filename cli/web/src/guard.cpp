#include "caravan/web/guard.hpp"

#include <array>

#include <httplib.h>
#include <sodium.h>

namespace caravan::web {

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

std::string lower_ascii(std::string_view text) {
    std::string out(text);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c + 32);
        }
    }
    return out;
}

std::string csrf_token(const httplib::Request& req) {
    const std::string field(k_csrf_field);
    if (req.has_param(field.c_str())) {
        return req.get_param_value(field.c_str());
    }
    if (req.has_file(field.c_str())) {
        return req.get_file_value(field.c_str()).content;
    }
    return {};
}

void set_security_headers(httplib::Response& res) {
    static const std::array<std::pair<const char*, const char*>, 5> k_headers{{
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on a
        // page's own form posts, which the guard must refuse.
        {"Referrer-Policy", "same-origin"},
        {"Cache-Control", "no-store"},
    }};
    for (const auto& [name, value] : k_headers) {
        res.set_header(name, value);
    }
}

std::string refusal_page(const Message& message) {
    std::string body = "<!doctype html><meta charset=utf-8><title>Caravan</title><main>";
    for (auto lang : {Language::kk, Language::ru, Language::en}) {
        body += "<p>" + std::string(message.text(lang)) + "</p>";
    }
    return body + "</main>";
}

} // namespace caravan::web
