#pragma once
// The coordinator's dashboard under test: a real server in this process on 127.0.0.1 (port 0)
// with the dashboard mounted and a clock the test moves, accounts made through Accounts, and a
// small "browser" that keeps cookies and sends what a browser sends with a form (Origin,
// Sec-Fetch-Site, the page's CSRF token).

#include <catch2/catch.hpp>

#include <httplib.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "../sync/server_test_support.hpp"
#include "caravan/dashboard/dashboard.hpp"
#include "caravan/sync/server/accounts.hpp"

namespace caravan::test::dashboard {

using server::k_day_ms;
using server::k_region_a;
using server::k_region_b;
namespace srv = caravan::sync::server;
using srv::AccountRole;

inline const std::string k_password = "correct horse battery";
// A consultation's question: personal text that no viewer's page or download may show.
inline const std::string k_question = "Жер телімі туралы құпия сұрақ";

// The fields of a new consultation of Айгүл's at `visit` with one topic, an outcome and a
// question (the rest fixed), as a device's create carries them.
inline nlohmann::json consultation_fields(const std::string& visit, const std::string& topic,
                                          const std::string& outcome, const std::string& question) {
    return {{"visit_id", visit},       {"lawyer", "Айгүл"},        {"gender", "female"},
            {"age", "33-45"},          {"category", "unemployed"}, {"vulnerable", false},
            {"topics", {topic}},       {"outcome", outcome},       {"question", question},
            {"advice", "өтініш жазу"}, {"follow_up", true},        {"lang", "kk"},
            {"deleted", false}};
}

struct Page {
    int status = 0;
    std::string body;
    httplib::Headers headers;
    [[nodiscard]] std::string location() const {
        auto it = headers.find("Location");
        return it == headers.end() ? "" : it->second;
    }
    [[nodiscard]] std::vector<std::string> set_cookies() const {
        std::vector<std::string> out;
        auto [from, to] = headers.equal_range("Set-Cookie");
        for (auto it = from; it != to; ++it) {
            out.push_back(it->second);
        }
        return out;
    }
    // The value of the first hidden csrf field on the page.
    [[nodiscard]] std::string csrf() const {
        const std::string marker = "name=\"csrf\" value=\"";
        auto at = body.find(marker);
        if (at == std::string::npos) {
            return "";
        }
        at += marker.size();
        return body.substr(at, body.find('"', at) - at);
    }
};

// A dashboard server whose clock the test sets.
class DashboardServer {
  public:
    // `tls`: the certificate chain and key to serve HTTPS with (none: plain HTTP).
    explicit DashboardServer(caravan::dashboard::DashboardOptions options = {},
                             std::pair<std::filesystem::path, std::filesystem::path> tls = {})
        : m_now(std::make_shared<std::atomic<std::int64_t>>(k_day_ms)), m_server([&] {
              srv::ServerOptions o;
              o.tls_cert = tls.first;
              o.tls_key = tls.second;
              auto now = m_now;
              o.clock = [now] { return now->load(); };
              o.front_end = caravan::dashboard::front_end(options);
              return o;
          }()) {}

    [[nodiscard]] int port() const { return m_server.port(); }
    server::TestServer& api() { return m_server; }
    // What a `caravan-server` command needs to reach this server's store: --data, and --store
    // on PostgreSQL.
    [[nodiscard]] std::vector<std::string> store_args() const {
        std::vector<std::string> args{"--data", m_server.data_dir().string()};
        if (!m_server.store_url().empty()) {
            args.insert(args.end(), {"--store", m_server.store_url()});
        }
        return args;
    }
    void advance_ms(std::int64_t ms) { m_now->fetch_add(ms); }
    [[nodiscard]] std::int64_t now() const { return m_now->load(); }

    void add_account(const std::string& name, srv::AccountRole role,
                     std::vector<std::string> regions = {}) {
        auto store = m_server.store();
        srv::Accounts accounts(store->accounts(), [this] { return now(); });
        auto added = accounts.add(name, role, regions, k_password);
        REQUIRE(added);
    }
    std::int64_t count(const std::string& sql) { return m_server.count(sql); }
    std::int64_t audit_count(const std::string& action) {
        return m_server.count("SELECT count(*) FROM audit_log WHERE action = '" + action + "'");
    }

  private:
    std::shared_ptr<std::atomic<std::int64_t>> m_now;
    server::TestServer m_server;
};

// Cookies and forms, as a browser on the dashboard's own page sends them.
class Browser {
  public:
    // `ca`: speak HTTPS, trusting this CA (none: plain HTTP).
    explicit Browser(int port, const std::string& ca = {})
        : m_port(port), m_scheme(ca.empty() ? "http" : "https"),
          m_client(m_scheme + "://127.0.0.1:" + std::to_string(port)) {
        m_client.set_read_timeout(std::chrono::seconds(60));
        if (!ca.empty()) {
            m_client.set_ca_cert_path(ca.c_str());
            m_client.enable_server_certificate_verification(true);
        }
    }

    Page get(const std::string& path, httplib::Headers extra = {}) {
        extra.emplace("Cookie", cookie_header());
        return keep(m_client.Get(path.c_str(), extra));
    }
    // A form post; `origin` empty: none sent.
    Page post(const std::string& path, const httplib::Params& form, std::string origin = "same",
              httplib::Headers extra = {}) {
        extra.emplace("Cookie", cookie_header());
        if (origin == "same") {
            origin = m_scheme + "://127.0.0.1:" + std::to_string(m_port);
        }
        if (!origin.empty()) {
            extra.emplace("Origin", origin);
        }
        return keep(m_client.Post(path.c_str(), extra, form));
    }
    // Logs in through the login page; the final page (303 on success).
    Page login(const std::string& name, const std::string& password = k_password) {
        const Page form = get("/login");
        return post("/login", {{"csrf", form.csrf()}, {"name", name}, {"password", password}});
    }
    // A multipart form post from the page (a file upload), with the page's Origin.
    Page post_multipart(const std::string& path, const httplib::MultipartFormDataItems& items) {
        httplib::Headers extra{{"Cookie", cookie_header()},
                               {"Origin", m_scheme + "://127.0.0.1:" + std::to_string(m_port)}};
        return keep(m_client.Post(path.c_str(), extra, items));
    }
    void set_cookie(const std::string& name, const std::string& value) { m_cookies[name] = value; }
    [[nodiscard]] std::string cookie(const std::string& name) const {
        auto it = m_cookies.find(name);
        return it == m_cookies.end() ? "" : it->second;
    }
    void forget_cookies() { m_cookies.clear(); }

  private:
    Page keep(const httplib::Result& result) {
        Page page;
        if (!result) {
            return page;
        }
        page.status = result->status;
        page.body = result->body;
        page.headers = result->headers;
        for (const auto& c : page.set_cookies()) {
            const auto eq = c.find('=');
            const auto semi = c.find(';');
            const std::string name = c.substr(0, eq);
            const std::string value = c.substr(eq + 1, semi - eq - 1);
            if (value.empty() || c.find("Max-Age=0") != std::string::npos) {
                m_cookies.erase(name);
            } else {
                m_cookies[name] = value;
            }
        }
        return page;
    }
    std::string cookie_header() const {
        std::string out;
        for (const auto& [k, v] : m_cookies) {
            out += (out.empty() ? "" : "; ") + k + "=" + v;
        }
        return out;
    }
    int m_port;
    std::string m_scheme;
    httplib::Client m_client;
    std::map<std::string, std::string> m_cookies;
};

} // namespace caravan::test::dashboard
