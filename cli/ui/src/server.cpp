#include "caravan/ui/server.hpp"

#include <chrono>
#include <thread>

#include <httplib.h>

#include "app.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {

struct UiServer::Impl {
    UiOptions options;
    Sessions sessions;
    EngineAccess engine;
    Jobs jobs;
    httplib::Server http;
    Routes routes = [] {
        Routes r;
        add_home_routes(r);
        add_consultation_routes(r);
        add_record_routes(r);
        add_attendance_routes(r);
        add_export_routes(r);
        add_sync_routes(r);
        add_conflict_routes(r);
        add_photo_routes(r);
        return r;
    }();
    int port = 0;
    std::thread thread;

    explicit Impl(UiOptions o)
        : options(std::move(o)),
          sessions(options.secret.empty() ? random_token() : options.secret),
          engine(options.database, options.busy_retry_ms) {}

    // The guard, then the route. Runs for every request.
    void handle(const httplib::Request& req, httplib::Response& res) {
        web::set_security_headers(res);
        if (!host_allowed(req.get_header_value("Host"), port)) {
            res.status = 421;
            res.set_content(web::refusal_page(msg::host_refused), "text/html; charset=utf-8");
            return;
        }
        const bool is_post = req.method == "POST";
        if (!is_post && req.method != "GET" && req.method != "HEAD") {
            res.status = 405;
            return;
        }
        // The launch link: exchange the secret for a session cookie, then drop it from the URL.
        if (!is_post && req.path == "/" && req.has_param("k")) {
            if (auto session = sessions.open(req.get_param_value("k"))) {
                res.set_header("Set-Cookie", std::string(k_session_cookie) + "=" + session->id +
                                                 "; HttpOnly; SameSite=Strict; Path=/");
                res.status = 303;
                res.set_header("Location", "/");
                return;
            }
        }
        const auto cookie = cookie_value(req.get_header_value("Cookie"), k_session_cookie);
        const auto session = cookie ? sessions.find(*cookie) : std::nullopt;
        if (!session) {
            res.status = 403;
            res.set_content(web::refusal_page(msg::access_denied), "text/html; charset=utf-8");
            return;
        }
        if (is_post) {
            const std::string origin = req.get_header_value("Origin");
            const std::string site = req.get_header_value("Sec-Fetch-Site");
            const bool same_origin = web::same_origin_post(
                origin, site, [this](std::string_view o) { return origin_allowed(o, port); });
            if (!same_origin || !same_secret(web::csrf_token(req), session->csrf)) {
                res.status = 403;
                res.set_content(web::refusal_page(msg::cross_site_refused),
                                "text/html; charset=utf-8");
                return;
            }
        }
        if (req.path.starts_with("/static/")) {
            if (!web::send_static(res, req.path.substr(8), "app.css",
                                  [](std::string_view name) { return asset(name); })) {
                res.status = 404;
            }
            return;
        }
        if (!is_post && req.path == "/lang") {
            web::send(res, web::switch_language(req));
            return;
        }
        const auto& table = is_post ? routes.post : routes.get;
        const auto route = table.find(req.path);
        const Form form = web::form_of(req);
        const Page page{form, web::lang_of(req, options.lang), *session, engine, jobs,
                        req.method == "GET" ? req.target : "/"};
        if (route == table.end()) {
            Answer answer = render_page(page, "message", tr(page, msg::page_not_found),
                                        {{"text", tr(page, msg::page_not_found)}});
            answer.status = 404;
            web::send(res, answer);
            return;
        }
        web::send(res, route->second(page));
    }
};

Result<std::unique_ptr<UiServer>> UiServer::start(UiOptions options) {
    if (options.port < 0 || options.port > 65535) {
        return fail(ErrorCode::invalid_input, msg::port_invalid, std::to_string(options.port));
    }
    auto impl = std::make_unique<Impl>(std::move(options));
    Impl* self = impl.get();
    self->http.new_task_queue = [] { return new httplib::ThreadPool(4); };
    self->http.set_payload_max_length(64 * 1024 * 1024);
    self->http.set_read_timeout(30, 0);
    self->http.set_keep_alive_max_count(100);
    auto any = [self](const httplib::Request& req, httplib::Response& res) {
        self->handle(req, res);
    };
    self->http.Get(R"(/.*)", any);
    self->http.Post(R"(/.*)", any);
    self->http.Put(R"(/.*)", any);
    self->http.Delete(R"(/.*)", any);
    self->http.Options(R"(/.*)", any);
    self->http.Patch(R"(/.*)", any);
    if (self->options.port == 0) {
        self->port = self->http.bind_to_any_port("127.0.0.1");
    } else {
        self->port = self->http.bind_to_port("127.0.0.1", self->options.port)
                         ? self->options.port
                         : -1;
    }
    if (self->port <= 0) {
        return fail(ErrorCode::invalid_input, msg::port_taken,
                    std::to_string(self->options.port));
    }
    self->thread = std::thread([self] { self->http.listen_after_bind(); });
    while (!self->http.is_running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::unique_ptr<UiServer>(new UiServer(std::move(impl)));
}

UiServer::UiServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

UiServer::~UiServer() {
    stop();
}

int UiServer::port() const {
    return m_impl->port;
}

std::string UiServer::launch_url() const {
    return "http://127.0.0.1:" + std::to_string(m_impl->port) + "/?k=" +
           m_impl->sessions.launch_secret();
}

bool UiServer::job_running() const {
    return m_impl->jobs.snapshot().running;
}

void UiServer::wait() {
    while (m_impl->http.is_running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

void UiServer::stop() {
    m_impl->http.stop();
    if (m_impl->thread.joinable()) {
        m_impl->thread.join();
    }
}

} // namespace caravan::ui
