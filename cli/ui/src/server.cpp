#include "caravan/ui/server.hpp"

#include <array>
#include <chrono>
#include <fstream>
#include <thread>

#include <httplib.h>

#include "app.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

constexpr std::string_view k_lang_cookie = "caravan_lang";

// Every answer: nothing from anywhere but this server, no framing, no referrer, no caching of
// pages that hold personal data, no MIME sniffing. No Access-Control-* header is ever set.
const httplib::Headers& security_headers() {
    static const httplib::Headers k_headers{
        {"Content-Security-Policy",
         "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'"},
        {"X-Content-Type-Options", "nosniff"},
        {"X-Frame-Options", "DENY"},
        // same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on the
        // app's own form posts, which the guard must refuse.
        {"Referrer-Policy", "same-origin"},
        {"Cache-Control", "no-store"},
    };
    return k_headers;
}

// A refusal before any language is known: the sentence in all three.
std::string refusal_page(const Message& message) {
    std::string body = "<!doctype html><meta charset=utf-8><title>Caravan</title><main>";
    for (auto lang : {Language::kk, Language::ru, Language::en}) {
        body += "<p>" + std::string(message.text(lang)) + "</p>";
    }
    return body + "</main>";
}

// Query and form fields; a multipart form's parts too (a file's bytes under its field name,
// its file name under NAME.filename).
Form form_of(const httplib::Request& req) {
    Form form;
    for (const auto& [k, v] : req.params) {
        form.fields.emplace(k, v);
    }
    for (const auto& [k, part] : req.files) {
        if (part.filename.empty()) {
            form.fields.emplace(k, part.content);
        } else {
            form.uploads.push_back({k, part.filename, part.content});
        }
    }
    return form;
}

client::Lang lang_of(const httplib::Request& req, client::Lang fallback) {
    if (auto v = cookie_value(req.get_header_value("Cookie"), k_lang_cookie)) {
        if (auto lang = client::parse_lang(*v)) {
            return *lang;
        }
    }
    return fallback;
}

// A local path to go back to after a language switch; anything else goes home.
std::string safe_back(const std::string& back) {
    if (back.empty() || back[0] != '/' || back.starts_with("//") ||
        back.find_first_of("\\\r\n") != std::string::npos) {
        return "/";
    }
    return back;
}

} // namespace

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

    void send(httplib::Response& res, const Answer& answer) {
        if (!answer.location.empty()) {
            res.status = 303;
            res.set_header("Location", answer.location);
            return;
        }
        if (!answer.file.empty()) {
            send_file(res, answer);
            return;
        }
        res.status = answer.status;
        res.set_content(answer.body, answer.content_type.c_str());
    }

    // A download streamed from its scratch file in 64 KiB pieces; the file is removed when the
    // answer is done (sent or abandoned).
    static void send_file(httplib::Response& res, const Answer& answer) {
        auto in = std::make_shared<std::ifstream>(answer.file, std::ios::binary);
        std::error_code ec;
        const auto size = std::filesystem::file_size(answer.file, ec);
        if (!*in || ec) {
            res.status = 500;
            return;
        }
        res.set_header("Content-Disposition",
                       "attachment; filename=\"" + answer.download_name + "\"");
        const std::filesystem::path file = answer.file;
        res.set_content_provider(
            size, answer.content_type.c_str(),
            [in](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                std::array<char, 64 * 1024> buf{};
                in->seekg(static_cast<std::streamoff>(offset));
                const auto want = std::min(length, buf.size());
                in->read(buf.data(), static_cast<std::streamsize>(want));
                const auto got = in->gcount();
                if (got <= 0) {
                    return false;
                }
                return sink.write(buf.data(), static_cast<std::size_t>(got));
            },
            [file](bool) {
                std::error_code ignored;
                std::filesystem::remove(file, ignored);
            });
    }

    // The guard, then the route. Runs for every request.
    void handle(const httplib::Request& req, httplib::Response& res) {
        for (const auto& [k, v] : security_headers()) {
            res.set_header(k, v);
        }
        if (!host_allowed(req.get_header_value("Host"), port)) {
            res.status = 421;
            res.set_content(refusal_page(msg::host_refused), "text/html; charset=utf-8");
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
            res.set_content(refusal_page(msg::access_denied), "text/html; charset=utf-8");
            return;
        }
        if (is_post) {
            const std::string origin = req.get_header_value("Origin");
            const std::string site = req.get_header_value("Sec-Fetch-Site");
            const bool same_origin = (origin.empty() || origin_allowed(origin, port)) &&
                                     (site.empty() || site == "same-origin");
            const std::string csrf_field(k_csrf_field);
            const std::string token = req.has_param(csrf_field.c_str())
                                          ? req.get_param_value(csrf_field.c_str())
                                      : req.has_file(csrf_field.c_str())
                                          ? req.get_file_value(csrf_field.c_str()).content
                                          : std::string{};
            if (!same_origin || !same_secret(token, session->csrf)) {
                res.status = 403;
                res.set_content(refusal_page(msg::cross_site_refused),
                                "text/html; charset=utf-8");
                return;
            }
        }
        if (req.path.starts_with("/static/")) {
            const std::string name = req.path.substr(8);
            const auto bytes = name.find('/') == std::string::npos ? asset(name) : std::nullopt;
            if (!bytes || name.ends_with(".mustache")) {
                res.status = 404;
                return;
            }
            res.set_header("Cache-Control", "private, max-age=3600");
            res.set_content(std::string(*bytes), name.ends_with(".css") ? "text/css; charset=utf-8"
                                                 : name.ends_with(".js")
                                                     ? "text/javascript; charset=utf-8"
                                                     : "application/octet-stream");
            return;
        }
        if (!is_post && req.path == "/lang") {
            const auto lang = client::parse_lang(req.get_param_value("to"));
            if (lang) {
                res.set_header("Set-Cookie", std::string(k_lang_cookie) + "=" +
                                                 std::string(client::to_string(*lang)) +
                                                 "; SameSite=Strict; Path=/; Max-Age=31536000");
            }
            res.status = 303;
            res.set_header("Location", safe_back(req.get_param_value("back")));
            return;
        }
        const auto& table = is_post ? routes.post : routes.get;
        const auto route = table.find(req.path);
        const Form form = form_of(req);
        const Page page{form, lang_of(req, options.lang), *session, engine, jobs,
                        req.method == "GET" ? req.target : "/"};
        if (route == table.end()) {
            Answer answer = render_page(page, "message", tr(page, msg::page_not_found),
                                        {{"text", tr(page, msg::page_not_found)}});
            answer.status = 404;
            send(res, answer);
            return;
        }
        send(res, route->second(page));
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
