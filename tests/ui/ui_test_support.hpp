#pragma once
// A test browser for the lawyer's app: an HTTP client on 127.0.0.1 that keeps the session
// cookie and the page's CSRF token the way a browser and the app's pages do.

#include <regex>
#include <string>

#include <httplib.h>

#include "caravan/ui/guard.hpp"
#include "caravan/ui/server.hpp"

namespace caravan::test {

class TestBrowser {
  public:
    explicit TestBrowser(int port) : m_port(port), m_http("127.0.0.1", port) {
        m_http.set_read_timeout(30, 0);
    }

    // Follows the launch link: true when the app handed out a session cookie.
    bool open(const std::string& launch_url) {
        const auto path = launch_url.substr(launch_url.find('/', 7));
        auto res = m_http.Get(path.c_str());
        if (!res || res->status != 303) {
            return false;
        }
        const std::string set = res->get_header_value("Set-Cookie");
        const auto eq = set.find('=');
        const auto semi = set.find(';');
        if (eq == std::string::npos || semi == std::string::npos) {
            return false;
        }
        m_cookie = set.substr(0, semi);
        return get("/") != nullptr;
    }

    httplib::Result get(const std::string& path, httplib::Headers extra = {}) {
        extra.emplace("Cookie", cookies());
        auto res = m_http.Get(path.c_str(), extra);
        remember_csrf(res);
        return res;
    }

    // A form post from the app's own page: its CSRF token and Origin added.
    httplib::Result post(const std::string& path, httplib::Params fields,
                         httplib::Headers extra = {}, bool with_token = true) {
        if (with_token) {
            fields.emplace("csrf", m_csrf);
        }
        if (!extra.count("Origin")) {
            extra.emplace("Origin", "http://127.0.0.1:" + std::to_string(m_port));
        }
        extra.emplace("Cookie", cookies());
        auto res = m_http.Post(path.c_str(), extra, fields);
        remember_csrf(res);
        return res;
    }

    // The language cookie a click on a language link sets.
    void choose_language(const std::string& code) { m_lang = code; }
    [[nodiscard]] const std::string& csrf() const { return m_csrf; }
    [[nodiscard]] const std::string& cookie() const { return m_cookie; }
    [[nodiscard]] int port() const { return m_port; }

  private:
    void remember_csrf(const httplib::Result& res) {
        if (!res) {
            return;
        }
        static const std::regex k_token(R"re(name="csrf" value="([0-9a-f]+)")re");
        std::smatch m;
        if (std::regex_search(res->body, m, k_token)) {
            m_csrf = m[1];
        }
    }

    [[nodiscard]] std::string cookies() const {
        return m_lang.empty() ? m_cookie : m_cookie + "; caravan_lang=" + m_lang;
    }

    int m_port;
    httplib::Client m_http;
    std::string m_cookie;
    std::string m_csrf;
    std::string m_lang;
};

} // namespace caravan::test
