// The dashboard's guard and frame: sessions, login and logout, the language, static files, and
// the routing of every other page to its handler (docs/security.md, "The coordinator's
// dashboard").

#include "caravan/dashboard/dashboard.hpp"

#include <memory>

#include <httplib.h>

#include "app.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"
#include "caravan/sync/server/rate_limiter.hpp"
#include "caravan/web/guard.hpp"

namespace caravan::dashboard {

using sync::server::Account;
using sync::server::Accounts;
using sync::server::AccountSession;
using sync::server::Store;

namespace {

constexpr std::string_view k_session_cookie = "caravan_dash";
// The login form's own CSRF token (double submit: the cookie and the form field must match).
constexpr std::string_view k_login_cookie = "caravan_dash_login";

std::string cookie(std::string_view name, const std::string& value, bool secure,
                   std::string_view extra = {}) {
    return std::string(name) + "=" + value + "; HttpOnly; SameSite=Strict; Path=/" +
           (secure ? "; Secure" : "") + std::string(extra);
}

std::int64_t minutes_to_wait(std::int64_t seconds) {
    return std::max<std::int64_t>(1, (seconds + 59) / 60);
}

class Dashboard {
  public:
    Dashboard(const sync::server::FrontEndContext& context, DashboardOptions options)
        : m_services(context), m_options(std::move(options)),
          m_by_account(m_options.max_failures_per_account, m_options.failure_window_ms),
          m_by_address(m_options.max_failures_per_address, m_options.failure_window_ms) {
        add_device_routes(m_routes);
        add_report_routes(m_routes);
        add_activity_routes(m_routes);
        add_record_routes(m_routes);
        add_conflict_routes(m_routes);
    }

    void handle(const httplib::Request& req, httplib::Response& res) {
        web::set_security_headers(res);
        const bool is_post = req.method == "POST";
        const client::Lang lang = web::lang_of(req, m_options.lang);
        if (req.path.starts_with("/static/")) {
            if (!web::send_static(res, req.path.substr(8), "dashboard.css",
                                  [](std::string_view name) { return asset(name); })) {
                refuse(res, 404, msg::page_not_found);
            }
            return;
        }
        if (!is_post && req.path == "/lang") {
            web::send(res, web::switch_language(req));
            return;
        }
        if (req.path == "/favicon.ico") {
            refuse(res, 404, msg::page_not_found);
            return;
        }
        if (is_post && !from_own_page(req)) {
            refuse(res, 403, msg::cross_site_refused);
            return;
        }
        if (req.path == "/login") {
            web::send(res, is_post ? login(req, lang) : login_page(req, lang, {}, 200));
            return;
        }
        const auto id = web::cookie_value(req.get_header_value("Cookie"), k_session_cookie);
        std::optional<Accounts::Found> found;
        if (id) {
            auto looked = m_services.with_store(false, [&](Store& store) -> Result<void> {
                auto f = m_services.accounts(store).find_session(*id, m_options.sessions);
                if (!f) {
                    return tl::unexpected(f.error());
                }
                found = std::move(*f);
                return {};
            });
            if (!looked) {
                log_failure("session", looked.error());
                refuse(res, 503, msg::server_error);
                return;
            }
        }
        if (!found) {
            if (is_post) {
                refuse(res, 403, msg::session_ended);
                return;
            }
            web::send(res, web::redirect(id ? "/login?ended=1" : "/login"));
            return;
        }
        if (is_post && !web::same_secret(web::csrf_token(req), found->session.csrf)) {
            refuse(res, 403, msg::cross_site_refused);
            return;
        }
        const web::Form form = web::form_of(req);
        const Page page{req, form, lang, found->account, found->session, m_services};
        if (is_post && req.path == "/logout") {
            web::send(res, logout(page, *id));
            return;
        }
        if (!is_post && req.path == "/") {
            web::send(res, web::redirect("/devices"));
            return;
        }
        const auto& table = is_post ? m_routes.post : m_routes.get;
        const auto route = table.find(req.path);
        if (route == table.end()) {
            web::send(res, message_page(page, msg::page_not_found, 404));
            return;
        }
        web::send(res, route->second(page));
    }

  private:
    // Origin (when sent) is this server as the browser reached it; Sec-Fetch-Site (when sent)
    // says same-origin.
    bool from_own_page(const httplib::Request& req) const {
        const std::string host = web::lower_ascii(req.get_header_value("Host"));
        return web::same_origin_post(
            req.get_header_value("Origin"), req.get_header_value("Sec-Fetch-Site"),
            [&](std::string_view origin) {
                return web::origin_matches(origin, m_services.tls() ? "https" : "http",
                                           [&](std::string_view h) {
                                               return !host.empty() && web::lower_ascii(h) == host;
                                           });
            });
    }

    void refuse(httplib::Response& res, int status, const Message& message) const {
        res.status = status;
        res.set_content(web::refusal_page(message), "text/html; charset=utf-8");
    }

    void log_failure(std::string_view what, const Error& error) const {
        m_services.log("dashboard error=" + std::string(what) +
                       " code=" + std::string(to_string(error.code)));
    }

    web::Answer login_page(const httplib::Request& req, client::Lang lang, std::string error,
                           int status) const {
        // One token per browser for the login form (kept, not renewed: the browser's other
        // requests, a favicon's, must not replace the one the open form carries).
        auto token = web::cookie_value(req.get_header_value("Cookie"), k_login_cookie)
                         .value_or(std::string());
        if (token.size() != 64 ||
            token.find_first_not_of("0123456789abcdef") != std::string::npos) {
            token = web::random_token();
        }
        mstch::map context{
            {"csrf", token},
            {"error", error},
            {"notice", req.has_param("ended") ? tr(lang, msg::session_ended)
                       : req.has_param("bye") ? tr(lang, msg::logged_out)
                                              : std::string()},
            {"name_label", tr(lang, msg::login_name)},
            {"password_label", tr(lang, msg::login_password)},
            {"button", tr(lang, msg::login_button)},
        };
        web::Answer answer = render_page(nullptr, lang, req.target, "login",
                                         tr(lang, msg::login_title), std::move(context), status);
        answer.headers.emplace_back("Set-Cookie", cookie(k_login_cookie, token, m_services.tls()));
        return answer;
    }

    web::Answer login(const httplib::Request& req, client::Lang lang) {
        const auto expected = web::cookie_value(req.get_header_value("Cookie"), k_login_cookie);
        if (!expected || !web::same_secret(web::csrf_token(req), *expected)) {
            web::Answer refused;
            refused.status = 403;
            refused.body = web::refusal_page(msg::cross_site_refused);
            return refused;
        }
        const std::string name = req.get_param_value("name");
        const std::string password = req.get_param_value("password");
        const std::int64_t now = m_services.now();
        // Both counters are reserved before the password is checked: a burst of guesses is cut
        // at the limit, not counted after all of them ran.
        auto by_address = m_by_address.reserve(req.remote_addr, now);
        if (!by_address) {
            return locked(req, lang, name, by_address.error());
        }
        // An account name has at most 64 characters: a longer "name" is counted under its
        // first 65, so the limiter's keys stay small whatever is posted.
        auto by_account = m_by_account.reserve(web::lower_ascii(name.substr(0, 65)), now);
        if (!by_account) {
            return locked(req, lang, name, by_account.error());
        }
        // The same counts in the store, where every process of a PostgreSQL store sees them.
        const std::string address_key = "address:" + req.remote_addr;
        const std::string account_key = "account:" + web::lower_ascii(name.substr(0, 65));
        std::optional<Account> account;
        bool known = false;
        std::int64_t shared_wait = 0;
        auto checked = m_services.with_store(false, [&](Store& store) -> Result<void> {
            Accounts accounts = m_services.accounts(store);
            // The wrong logins the server's other processes saw (PostgreSQL; 0 otherwise).
            CARAVAN_TRY(by_address_wait,
                        accounts.login_wait_s(address_key, m_options.max_failures_per_address,
                                              m_options.failure_window_ms));
            CARAVAN_TRY(by_account_wait,
                        accounts.login_wait_s(account_key, m_options.max_failures_per_account,
                                              m_options.failure_window_ms));
            shared_wait = std::max(by_address_wait, by_account_wait);
            if (shared_wait > 0) {
                return {};
            }
            auto exists = accounts.find(name);
            if (!exists) {
                return tl::unexpected(exists.error());
            }
            known = exists->has_value();
            auto verified = accounts.verify(name, password);
            if (!verified) {
                return tl::unexpected(verified.error());
            }
            account = std::move(*verified);
            return {};
        });
        if (!checked) {
            log_failure("login", checked.error());
            return login_page(req, lang, tr(lang, msg::server_error), 503);
        }
        if (shared_wait > 0) {
            return locked(req, lang, name, shared_wait);
        }
        if (!account) {
            by_address->fail(now);
            by_account->fail(now);
            auto shared = m_services.with_store(true, [&](Store& store) -> Result<void> {
                Accounts accounts = m_services.accounts(store);
                CARAVAN_TRY_VOID(
                    accounts.record_login_failure(address_key, m_options.failure_window_ms));
                return accounts.record_login_failure(account_key, m_options.failure_window_ms);
            });
            if (!shared) {
                log_failure("login", shared.error());
            }
            // The typed name only when it is an account's: a password typed into the name
            // field must not reach the log.
            m_services.audit(known ? name : "(unknown)", "login_failed", "");
            return login_page(req, lang, tr(lang, msg::login_failed), 401);
        }
        std::optional<AccountSession> session;
        auto opened = m_services.with_store(true, [&](Store& store) -> Result<void> {
            auto s = m_services.accounts(store).open_session(*account);
            if (!s) {
                return tl::unexpected(s.error());
            }
            session = std::move(*s);
            return {};
        });
        if (!opened) {
            log_failure("login", opened.error());
            return login_page(req, lang, tr(lang, msg::server_error), 503);
        }
        m_services.audit(account->name, "login", "");
        web::Answer answer = web::redirect("/devices");
        answer.headers.emplace_back("Set-Cookie",
                                    cookie(k_session_cookie, session->id, m_services.tls()));
        answer.headers.emplace_back("Set-Cookie",
                                    cookie(k_login_cookie, "", m_services.tls(), "; Max-Age=0"));
        return answer;
    }

    web::Answer locked(const httplib::Request& req, client::Lang lang, const std::string& name,
                       std::int64_t wait_s) {
        bool known = false;
        (void)m_services.with_store(false, [&](Store& store) -> Result<void> {
            auto exists = m_services.accounts(store).find(name);
            known = exists && exists->has_value();
            return {};
        });
        m_services.audit(known ? name : "(unknown)", "login_locked", "");
        return login_page(req, lang, tr(lang, msg::login_locked, {minutes_to_wait(wait_s)}), 429);
    }

    web::Answer logout(const Page& page, const std::string& id) {
        auto closed = m_services.with_store(
            true, [&](Store& store) { return m_services.accounts(store).close_session(id); });
        if (!closed) {
            log_failure("logout", closed.error());
            return message_page(page, msg::server_error, 503);
        }
        m_services.audit(page.account.name, "logout", "");
        web::Answer answer = web::redirect("/login?bye=1");
        answer.headers.emplace_back("Set-Cookie",
                                    cookie(k_session_cookie, "", m_services.tls(), "; Max-Age=0"));
        return answer;
    }

    Services m_services;
    DashboardOptions m_options;
    sync::server::RateLimiter m_by_account;
    sync::server::RateLimiter m_by_address;
    Routes m_routes;
};

} // namespace

sync::server::Accounts Services::accounts(Store& store) const {
    return Accounts(store.accounts(), [&store] { return store.now_ms(); });
}

void Services::audit(std::string_view account, std::string_view action,
                     std::string_view detail) const {
    auto written = with_store(
        true, [&](Store& store) { return accounts(store).audit(account, action, detail); });
    if (!written) {
        log("dashboard error=audit code=" + std::string(to_string(written.error().code)));
    }
}

std::string tr(client::Lang lang, const Message& message, std::vector<MessageArg> args) {
    return web::translate(client::message_lang(lang), message, std::move(args));
}

web::Answer render_page(const Page* page, client::Lang lang, std::string_view target,
                        const std::string& name, const std::string& title, mstch::map context,
                        int status) {
    const auto layout = asset("layout.mustache");
    const auto body = asset(name + ".mustache");
    web::Answer answer;
    answer.status = status;
    if (!layout || !body) {
        answer.status = 500;
        answer.body = web::refusal_page(msg::server_error);
        return answer;
    }
    context.emplace("title", title);
    context.emplace("app_title", tr(lang, msg::app_title));
    context.emplace("lang", std::string(client::to_string(lang)));
    context.emplace("language_label", tr(lang, msg::language_label));
    context.emplace("langs", web::language_links(lang, target));
    if (page) {
        context.emplace("csrf", page->session.csrf);
        context.emplace("nav_devices", tr(lang, msg::nav_devices));
        context.emplace("nav_journals", tr(lang, msg::nav_journals));
        context.emplace("nav_indicators", tr(lang, msg::nav_indicators));
        context.emplace("nav_breakdowns", tr(lang, msg::nav_breakdowns));
        context.emplace("nav_activity", tr(lang, msg::nav_activity));
        context.emplace("nav_records", tr(lang, msg::nav_records));
        context.emplace("nav_conflicts", tr(lang, msg::nav_conflicts));
        context.emplace("coordinator", page->coordinator());
        context.emplace("logout", tr(lang, msg::logout));
        context.emplace("signed_in",
                        tr(lang, msg::signed_in_as,
                           {page->account.name,
                            page->coordinator() ? msg::role_coordinator : msg::role_viewer}));
    }
    const auto fields = asset("scope_fields.mustache");
    answer.body =
        web::render(*layout, *body, context, {{"scope_fields", std::string(fields.value_or(""))}});
    return answer;
}

web::Answer message_page(const Page& page, const Message& message, int status) {
    return render_page(page, "message", tr(page, message), {{"text", tr(page, message)}}, status);
}

sync::server::FrontEnd front_end(DashboardOptions options) {
    return [options](const sync::server::FrontEndContext& context) {
        auto dashboard = std::make_shared<Dashboard>(context, options);
        // Everything outside the API's /v1/ (registered first, so its routes win).
        const std::string pages = R"(/(?!v1/).*)";
        auto handler = [dashboard](const httplib::Request& req, httplib::Response& res) {
            dashboard->handle(req, res);
        };
        context.http->Get(pages, handler);
        context.http->Post(pages, handler);
    };
}

} // namespace caravan::dashboard
