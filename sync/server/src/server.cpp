#include "caravan/sync/server/server.hpp"

#include <malloc.h>
#include <sys/socket.h>

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/protocol/enroll.hpp"
#include "caravan/sync/protocol/rotate.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "caravan/sync/protocol/status.hpp"
#include "caravan/sync/protocol/verify.hpp"
#include "caravan/sync/server/api_error.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "caravan/sync/server/rate_limiter.hpp"
#include "caravan/sync/server/store.hpp"
#include "connection_guard.hpp"
#include "elastic_pool.hpp"
#include "export_routes.hpp"
#include "request_parts.hpp"
#include "store_pool.hpp"
#include "tls.hpp"

namespace caravan::sync::server {

using nlohmann::json;

namespace {

// Bodies below this size go out uncompressed: the framing would cost more than it saves.
constexpr std::size_t k_compress_threshold = 512;
// A request body at least this large gives its memory back to the system once answered.
constexpr std::size_t k_trim_after_bytes = 1 << 20;

std::int64_t system_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string_view route_of(const std::string& path) {
    for (std::string_view route : routes::sync_routes) {
        if (path == route) {
            return route;
        }
    }
    for (std::string_view route : routes::export_routes) {
        if (path == route) {
            return route;
        }
    }
    return "(other)";
}

std::string_view code_for_status(int status) {
    switch (status) {
    case 400:
        return codes::malformed;
    case 401:
        return codes::unauthenticated;
    case 403:
        return codes::forbidden;
    case 404:
    case 405:
        return codes::not_found;
    case 408:
        return codes::timeout;
    case 413:
    case 431:
        return codes::too_large;
    case 414:
        return codes::malformed;
    case 503:
        return codes::unavailable;
    default:
        return status >= 500 ? codes::internal : codes::malformed;
    }
}

// Connection slots: the default, and the workers for a given number of slots. The extra
// workers answer the connections beyond the slots at once (ConnectionGuard refuses them)
// instead of leaving them queued behind the ones being served.
std::size_t default_slots(std::size_t threads) {
    return std::max<std::size_t>(threads * 8, 512);
}
constexpr std::size_t k_refusing_workers = 16;
constexpr int k_listen_backlog = 1024;

} // namespace

struct Server::Impl {
    ServerOptions options;
    std::optional<DataDirLock> lock;
    StorePool pool;
    std::shared_ptr<ConnectionGuard> guard;
    // The worker pool cpp-httplib creates in listen (for /v1/health); set before any request.
    std::atomic<ElasticPool*> workers{nullptr};
    // A plain Server or an SSLServer (tls.hpp); every route is registered the same way.
    std::unique_ptr<httplib::Server> http_owner;
    httplib::Server& http;
    RateLimiter limiter;
    std::mutex write_mutex;
    std::mutex log_mutex;
    std::thread listener;
    int port = 0;
    bool stopped = false;
    std::mutex stop_mutex;

    Impl(ServerOptions o, std::shared_ptr<ConnectionGuard> g,
         std::unique_ptr<httplib::Server> server)
        : options(std::move(o)), guard(std::move(g)), http_owner(std::move(server)),
          http(*http_owner), limiter(options.enroll_max_failures, options.enroll_window_ms) {}

    std::int64_t now() const { return options.clock ? options.clock() : system_clock_ms(); }

    void log(std::string_view line) {
        if (options.log_sink) {
            options.log_sink(line);
            return;
        }
        std::lock_guard lock(log_mutex);
        std::string text = "caravan-server: " + std::string(line) + "\n";
        std::fwrite(text.data(), 1, text.size(), stderr);
        std::fflush(stderr);
    }

    // ---- responses ----------------------------------------------------------------------------

    void send_json(const httplib::Request& req, httplib::Response& res, int status,
                   const json& body) {
        std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
        res.status = status;
        res.set_header("Vary", "Accept-Encoding");
        res.set_header("Cache-Control", "no-store");
        Encoding encoding = choose_encoding(req.get_header_value("Accept-Encoding"));
        if (encoding != Encoding::identity && text.size() >= k_compress_threshold) {
            if (auto packed = compress(text, encoding)) {
                text = std::move(*packed);
                res.set_header("Content-Encoding", std::string(to_string(encoding)));
            }
        }
        res.set_content(text, std::string(k_json_content_type).c_str());
    }

    void send_error(const httplib::Request& req, httplib::Response& res, const ApiError& error) {
        current_request().code = error.code;
        if (!error.log_detail.empty()) {
            log("error route=" + std::string(route_of(req.path)) +
                " device=" + (current_request().device.empty() ? "-" : current_request().device) +
                " code=" + error.code + " detail=" + error.log_detail);
        }
        if (auto ra = error.extra.find("retry_after");
            ra != error.extra.end() && ra->is_number_integer()) {
            res.set_header("Retry-After", std::to_string(ra->get<std::int64_t>()));
        }
        send_json(req, res, error.http_status(), error.body());
    }

    // Runs a handler body, turning its refusal or an escaped exception (a bug) into a response.
    // `with_body`: the route reads its body itself; when it answered without consuming all of
    // it (refused early, or over a limit) the connection is closed, since the unread rest would
    // be taken for the next request on a keep-alive connection.
    void run(const httplib::Request& req, httplib::Response& res,
             const std::function<ApiResult<json>()>& body, bool with_body = false) {
        ApiResult<json> result = [&]() -> ApiResult<json> {
            try {
                return body();
            } catch (const std::exception& e) {
                ApiError error = api_error_from(Error{ErrorCode::internal, "exception"});
                error.log_detail = std::string("exception: ") + e.what();
                return tl::unexpected(std::move(error));
            }
        }();
        if (result) {
            send_json(req, res, 200, *result);
        } else {
            send_error(req, res, result.error());
        }
        if (with_body && !current_request().body_read) {
            res.set_header("Connection", "close");
        }
        // glibc keeps the heap a large body grew (and raises its mmap threshold after the first
        // one), so without this the peak of a few large requests stays with the process.
        if (current_request().bytes_in >= static_cast<std::int64_t>(k_trim_after_bytes)) {
            ::malloc_trim(0);
        }
    }

    // ---- the handler wrapper -------------------------------------------------------------------

    // What an authenticated route's handler works with.
    class Caller {
      public:
        Caller(const httplib::Request& request, const DeviceRecord& device, const json& body,
               StorePool& pool, std::optional<StorePool::Lease> lease)
            : req(request), device(device), body(body), m_pool(pool), m_lease(std::move(lease)) {}

        const httplib::Request& req;
        const DeviceRecord& device; // as authenticated
        const json& body;           // POST: the request's JSON object; GET: null

        // A Store for the rest of the request: the one the device was authenticated with (GET),
        // or one taken from the pool on first use (POST, whose body arrived without holding one).
        Store& store() {
            if (!m_lease) {
                m_lease.emplace(m_pool.acquire());
            }
            return **m_lease;
        }

      private:
        StorePool& m_pool;
        std::optional<StorePool::Lease> m_lease;
    };
    using Handler = ApiResult<json> (Impl::*)(Caller&);

    enum class Access { current, rotated }; // rotated: a replaced device's token too

    // Registers `path` behind the preamble every authenticated route shares: the protocol
    // header, a Store from the pool, the bearer token (DeviceRegistry::authenticate; a
    // replaced device's only with Access::rotated). A POST route's body is read after that
    // Store went back to the pool (a body may take minutes to arrive over a rural link) and
    // handed over parsed (read_json_body); a GET route keeps the Store. The handler's answer
    // or refusal becomes the response (run).
    void authenticated(std::string_view method, std::string_view route, Handler handler,
                       Access access = Access::current) {
        const std::string path(route);
        const bool allow_rotated = access == Access::rotated;
        if (method == "POST") {
            http.Post(path, [this, handler, allow_rotated](const httplib::Request& req,
                                                           httplib::Response& res,
                                                           const httplib::ContentReader& reader) {
                run(
                    req, res,
                    [&]() -> ApiResult<json> {
                        if (auto ok = check_protocol(req); !ok) {
                            return tl::unexpected(ok.error());
                        }
                        std::optional<DeviceRecord> device;
                        {
                            auto store = pool.acquire();
                            auto known = authenticate(req, store->registry(), allow_rotated);
                            if (!known) {
                                return tl::unexpected(known.error());
                            }
                            device = std::move(*known);
                        }
                        auto body = read_json_body(req, reader);
                        if (!body) {
                            return tl::unexpected(body.error());
                        }
                        Caller caller(req, *device, *body, pool, std::nullopt);
                        return (this->*handler)(caller);
                    },
                    true);
            });
            return;
        }
        http.Get(path, [this, handler, allow_rotated](const httplib::Request& req,
                                                      httplib::Response& res) {
            run(req, res, [&]() -> ApiResult<json> {
                if (auto ok = check_protocol(req); !ok) {
                    return tl::unexpected(ok.error());
                }
                auto store = pool.acquire();
                auto device = authenticate(req, store->registry(), allow_rotated);
                if (!device) {
                    return tl::unexpected(device.error());
                }
                const json none;
                Caller caller(req, *device, none, pool, std::move(store));
                return (this->*handler)(caller);
            });
        });
    }

    // ---- endpoints ----------------------------------------------------------------------------

    // POST /v1/enroll: the one route without a token.
    ApiResult<json> enroll(const httplib::Request& req, const httplib::ContentReader& reader) {
        if (auto ok = check_protocol(req); !ok) {
            return tl::unexpected(ok.error());
        }
        // The attempt is reserved before its body is read: a burst of concurrent guesses is cut
        // at the limit, not counted after all of them were evaluated.
        auto slot = limiter.reserve(req.remote_addr, now());
        if (!slot) {
            return refuse(codes::slow_down, "too many wrong enrollment codes from this address",
                          {{"retry_after", slot.error()}});
        }
        auto j = read_json_body(req, reader);
        if (!j) {
            return tl::unexpected(j.error());
        }
        auto request = enroll_request_from_json(*j);
        if (!request) {
            return refuse(codes::malformed, request.error().message);
        }
        SyncReport report = report_from(req);
        if (const auto& text = request->app_version;
            text && !text->empty() && text->size() <= 100 && printable_ascii(*text)) {
            report.app_version = *text;
        }
        auto store = pool.acquire();
        // The failures other processes on the same store saw (PostgreSQL; 0 otherwise).
        auto shared_wait = store->registry().enroll_wait_s(
            req.remote_addr, options.enroll_max_failures, options.enroll_window_ms);
        if (!shared_wait) {
            return tl::unexpected(api_error_from(shared_wait.error()));
        }
        if (*shared_wait > 0) {
            return refuse(codes::slow_down, "too many wrong enrollment codes from this address",
                          {{"retry_after", *shared_wait}});
        }
        ApiResult<Enrollment> enrolled = [&] {
            std::lock_guard lock(write_mutex);
            return store->registry().enroll(request->code, request->device_id, report);
        }();
        if (!enrolled) {
            if (enrolled.error().code == codes::invalid_code) {
                slot->fail(now());
                if (auto ok = store->registry().record_enroll_failure(req.remote_addr,
                                                                      options.enroll_window_ms);
                    !ok) {
                    return tl::unexpected(api_error_from(ok.error()));
                }
            }
            return tl::unexpected(enrolled.error());
        }
        current_request().device = client::short_id(enrolled->device.device_id);
        auto epoch = store->feed().epoch();
        if (!epoch) {
            return tl::unexpected(api_error_from(epoch.error()));
        }
        return to_json(EnrollResponse{enrolled->device.device_id, enrolled->token,
                                      std::string(to_string(enrolled->device.role)),
                                      enrolled->device.regions, *epoch, iso_utc(now())});
    }

    // POST /v1/rotate (docs/protocol.md 6.9): the token's device continues under a new id.
    ApiResult<json> rotate(Caller& c) {
        auto request = rotate_request_from_json(c.body);
        if (!request) {
            return refuse(codes::malformed, request.error().message);
        }
        if (request->device_id != c.device.device_id) {
            return refuse(codes::forbidden, "\"device_id\" is not the id of this device's token");
        }
        Store& store = c.store();
        ApiResult<Enrollment> rotated = [&] {
            std::lock_guard lock(write_mutex);
            return store.registry().rotate(c.device, request->new_device_id, report_from(c.req));
        }();
        if (!rotated) {
            return tl::unexpected(rotated.error());
        }
        auto epoch = store.feed().epoch();
        if (!epoch) {
            return tl::unexpected(api_error_from(epoch.error()));
        }
        return to_json(RotateResponse{rotated->device.device_id, c.device.device_id, rotated->token,
                                      std::string(to_string(rotated->device.role)),
                                      rotated->device.regions, *epoch, iso_utc(now())});
    }

    // GET /v1/status
    ApiResult<json> status(Caller& c) {
        auto st = c.store().feed().status(c.device);
        if (!st) {
            return tl::unexpected(st.error());
        }
        auto epoch = c.store().feed().epoch();
        if (!epoch) {
            return tl::unexpected(api_error_from(epoch.error()));
        }
        return to_json(StatusResponse{
            *epoch,
            k_protocol_version,
            iso_utc(now()),
            {c.device.device_id, std::string(to_string(c.device.role)), c.device.regions},
            st->acked_seq,
            st->head});
    }

    // POST /v1/push
    ApiResult<json> push(Caller& c) {
        if (auto events = c.body.find("events"); events != c.body.end() && events->is_array() &&
                                                 events->size() > Limits::max_events_per_push) {
            return refuse(codes::too_large, "more than " +
                                                std::to_string(Limits::max_events_per_push) +
                                                " events in one push");
        }
        auto request = push_request_from_json(c.body);
        if (!request) {
            return refuse(codes::malformed, request.error().message);
        }
        SyncReport report = report_from(c.req);
        Store& store = c.store();
        ApiResult<PushResponse> response = [&] {
            std::lock_guard lock(write_mutex);
            return store.feed().push(c.device, *request, report);
        }();
        if (!response) {
            return tl::unexpected(response.error());
        }
        return to_json(*response);
    }

    // GET /v1/pull
    ApiResult<json> pull(Caller& c) {
        auto query = pull_query_from(c.req.params);
        if (!query) {
            return refuse(codes::malformed, query.error().message);
        }
        auto response = c.store().feed().pull(c.device, query->after, query->limit, query->epoch,
                                              query->own_upto);
        if (!response) {
            return tl::unexpected(response.error());
        }
        {
            std::lock_guard lock(write_mutex);
            if (auto ok = c.store().registry().record_pull(c.device, report_from(c.req)); !ok) {
                // The report is bookkeeping: the pull itself succeeded.
                log("error route=" + std::string(routes::pull) +
                    " device=" + current_request().device +
                    " code=report detail=" + std::string(to_string(ok.error().code)));
            }
        }
        return to_json(*response);
    }

    // GET /v1/verify
    ApiResult<json> verify(Caller& c) {
        auto query = verify_query_from(c.req.params);
        if (!query) {
            return refuse(codes::malformed, query.error().message);
        }
        auto result = c.store().feed().verify(c.device, query->upto);
        if (!result) {
            return tl::unexpected(result.error());
        }
        return to_json(VerifyResponse{result->upto, result->count, result->digest});
    }

    // GET /v1/health (docs/protocol.md 6.7): 200 while requests can be served, 503 with the same
    // figures when workers, store connections or connection slots are exhausted.
    void health(const httplib::Request& req, httplib::Response& res) {
        ElasticPool::Counts w;
        if (ElasticPool* queue = workers.load()) {
            w = queue->counts();
        }
        StorePool::Counts st = pool.counts();
        ConnectionGuard::Counts c = guard->counts();
        std::vector<std::string> exhausted;
        // This request holds a worker and a connection slot itself.
        if (w.max > 0 && (w.busy >= w.max || (w.queued > 0 && w.live >= w.max))) {
            exhausted.emplace_back("workers");
        }
        if (st.waiting > 0) {
            exhausted.emplace_back("store");
        }
        if (c.open >= c.max) {
            exhausted.emplace_back("connections");
        }
        json body{
            {"ok", exhausted.empty()},
            {"protocol", k_protocol_version},
            {"server_time", iso_utc(now())},
            {"saturated", exhausted},
            {"workers", {{"busy", w.busy}, {"live", w.live}, {"max", w.max}, {"queued", w.queued}}},
            {"store", {{"size", st.size}, {"in_use", st.in_use}, {"waiting", st.waiting}}},
            {"connections",
             {{"open", c.open},
              {"max", c.max},
              {"addresses", c.addresses},
              {"per_address_max", guard->limits().per_address},
              {"refused_per_address", c.refused_per_address},
              {"refused_full", c.refused_full},
              {"timed_out", c.timed_out},
              {"headers_refused", c.headers_refused}}}};
        if (!exhausted.empty()) {
            current_request().code = codes::unavailable;
            json error = error_body(codes::unavailable, "the server is saturated");
            body["error"] = error["error"];
            body["retry_after"] = 1;
            res.set_header("Retry-After", "1");
            send_json(req, res, 503, body);
            return;
        }
        send_json(req, res, 200, body);
    }

    // ---- wiring -------------------------------------------------------------------------------

    void routes() {
        http.set_payload_max_length(Limits::max_body_bytes);
        http.set_tcp_nodelay(true);
        // Keep-alive, read and write deadlines, header limits and admission are the
        // ConnectionGuard's (connection_guard.hpp): cpp-httplib's own only bound single reads.
        // Only SO_REUSEADDR: the default SO_REUSEPORT would let a second server share the port.
        http.set_socket_options([](socket_t sock) {
            int yes = 1;
            ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
        });
        // `threads` workers always, more while more devices are connected (ElasticPool).
        const std::size_t threads = options.threads;
        const std::size_t cap = guard->limits().max_connections + k_refusing_workers;
        http.new_task_queue = [this, threads, cap] {
            auto* queue = new ElasticPool(threads, cap);
            workers = queue;
            return queue;
        };

        http.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
            current_request() = RequestLog{};
            current_request().start = std::chrono::steady_clock::now();
            current_request().started = true;
            return httplib::Server::HandlerResponse::Unhandled;
        });
        http.set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
            if (res.body.empty()) {
                int status = res.status;
                // cpp-httplib answers 400 to headers it could not read; the guard says why.
                if (status == 400) {
                    switch (ConnectionGuard::last_failure()) {
                    case StreamFailure::headers_too_large:
                        status = 431;
                        break;
                    case StreamFailure::deadline:
                        status = 408;
                        break;
                    case StreamFailure::none:
                        break;
                    }
                }
                std::string_view code = code_for_status(status);
                send_error(
                    req, res,
                    ApiError{std::string(code),
                             status == 413 ? "the body is too large"
                             : status == 431
                                 ? "the request line and headers exceed " +
                                       std::to_string(Limits::max_header_bytes) + " bytes or " +
                                       std::to_string(Limits::max_header_lines) + " header lines"
                             : status == 408 ? "the request was not received in time"
                             : status == 404 ? "no such endpoint"
                                             : "the request could not be handled",
                             json::object(), std::string()});
                res.status = status; // keep what cpp-httplib decided (e.g. 405, 414)
            }
        });
        http.set_exception_handler(
            [this](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
                ApiError error = api_error_from(Error{ErrorCode::internal, "exception"});
                send_error(req, res, error);
            });
        http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            if (options.access_log) {
                std::int64_t bytes_in = current_request().bytes_in;
                if (bytes_in < 0) {
                    bytes_in = req.has_header("Content-Length")
                                   ? parse_count(req.get_header_value("Content-Length"))
                                         .value_or(static_cast<std::int64_t>(req.body.size()))
                                   : static_cast<std::int64_t>(req.body.size());
                }
                double ms = 0;
                if (current_request().started) {
                    ms = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - current_request().start)
                             .count();
                }
                char timing[32];
                std::snprintf(timing, sizeof timing, "%.1f", ms);
                std::string line =
                    "access method=" +
                    (printable_ascii(req.method) && req.method.size() <= 10 ? req.method
                                                                            : std::string("?")) +
                    " route=" + std::string(route_of(req.path)) +
                    " status=" + std::to_string(res.status) + " device=" +
                    (current_request().device.empty() ? "-" : current_request().device) +
                    " in=" + std::to_string(bytes_in) + " out=" + std::to_string(res.body.size()) +
                    " ms=" + timing;
                if (!current_request().code.empty()) {
                    line += " code=" + current_request().code;
                }
                log(line);
            }
            current_request() = RequestLog{};
        });

        http.Post(std::string(routes::enroll),
                  [this](const httplib::Request& req, httplib::Response& res,
                         const httplib::ContentReader& reader) {
                      run(
                          req, res, [&] { return enroll(req, reader); }, true);
                  });
        authenticated("POST", routes::push, &Impl::push);
        authenticated("POST", routes::rotate, &Impl::rotate, Access::rotated);
        authenticated("GET", routes::status, &Impl::status);
        authenticated("GET", routes::pull, &Impl::pull);
        authenticated("GET", routes::verify, &Impl::verify);
        http.Get(std::string(routes::health),
                 [this](const httplib::Request& req, httplib::Response& res) { health(req, res); });
        add_export_routes(
            http, ExportRouteHooks{&pool,
                                   [this](const httplib::Request& req, httplib::Response& res,
                                          const ApiError& error) { send_error(req, res, error); },
                                   [this](std::string_view line) { log(line); }});
        if (options.front_end) {
            FrontEndContext context;
            context.http = &http;
            context.with_store = [this](bool write,
                                        const std::function<Result<void>(Store&)>& work) {
                auto store = pool.acquire();
                if (!write) {
                    return work(*store);
                }
                std::lock_guard lock(write_mutex);
                return work(*store);
            };
            context.tls = !options.tls_cert.empty();
            context.clock = [this] { return now(); };
            context.log = [this](std::string_view line) { log(line); };
            options.front_end(context);
        }
    }
};

Server::Server(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Server::~Server() {
    stop();
}

Result<std::unique_ptr<Server>> Server::start(ServerOptions options) {
    if (options.threads == 0) {
        options.threads = 1;
    }
    ConnectionLimits limits;
    limits.per_address = std::max<std::size_t>(1, options.max_connections_per_address);
    limits.max_connections =
        options.max_connections == 0 ? default_slots(options.threads) : options.max_connections;
    limits.header_timeout = std::chrono::milliseconds(std::max(1, options.header_timeout_ms));
    limits.request_timeout =
        std::chrono::milliseconds(std::max(options.header_timeout_ms, options.request_timeout_ms));
    auto guard = std::make_shared<ConnectionGuard>(limits);
    auto listener = make_http_server(options.tls_cert, options.tls_key, guard);
    if (!listener) {
        return tl::unexpected(listener.error());
    }
    auto impl = std::make_unique<Impl>(std::move(options), std::move(guard), std::move(*listener));
    const ServerOptions& o = impl->options;
    auto lock = DataDirLock::acquire(o.data_dir);
    if (!lock) {
        return tl::unexpected(lock.error());
    }
    if (auto was = lock->tightened_from()) {
        impl->log("the data directory " + o.data_dir.string() + " was mode " + mode_text(*was) +
                  " (open to other users): tightened to 0700");
    }
    impl->lock.emplace(std::move(*lock));

    StoreOptions first;
    first.busy_timeout_ms = o.busy_timeout_ms;
    first.clock = o.clock;
    first.cache_dir = o.data_dir / "pg-cache";
    std::shared_ptr<pg::Pool> pg_pool;
    if (!o.store_url.empty()) {
        pg_pool = std::make_shared<pg::Pool>(o.store_url, std::max<std::size_t>(1, o.pg_pool_size));
    }
    auto open = [&](const StoreOptions& so) {
        return pg_pool ? Store::open_postgresql(pg_pool, so)
                       : Store::open(database_path(o.data_dir), so);
    };
    auto store = open(first);
    if (!store) {
        return tl::unexpected(store.error());
    }
    impl->pool.add(std::move(*store));
    for (std::size_t i = 1; i < o.threads; ++i) {
        StoreOptions more = first;
        more.migrate = false;
        more.integrity_check = false;
        auto extra = open(more);
        if (!extra) {
            return tl::unexpected(extra.error());
        }
        impl->pool.add(std::move(*extra));
    }

    impl->routes();
    if (o.port == 0) {
        impl->port = impl->http.bind_to_any_port(o.host);
        if (impl->port <= 0) {
            return fail(ErrorCode::io, "cannot listen on " + o.host);
        }
    } else {
        if (!impl->http.bind_to_port(o.host, o.port)) {
            return fail(ErrorCode::io, "cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                           " (address in use or not available)");
        }
        impl->port = o.port;
    }
    widen_backlog(impl->http, k_listen_backlog);
    Impl* raw = impl.get();
    impl->listener = std::thread([raw] { raw->http.listen_after_bind(); });
    // cpp-httplib has no "ready" signal: stop() before is_running() would leave listen hanging.
    while (!impl->http.is_running()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::unique_ptr<Server>(new Server(std::move(impl)));
}

int Server::port() const {
    return m_impl->port;
}

const std::string& Server::host() const {
    return m_impl->options.host;
}

bool Server::tls() const {
    return !m_impl->options.tls_cert.empty();
}

bool Server::running() const {
    return m_impl->http.is_running();
}

void Server::stop() {
    if (!m_impl) {
        return;
    }
    std::lock_guard lock(m_impl->stop_mutex);
    if (m_impl->stopped) {
        return;
    }
    m_impl->stopped = true;
    m_impl->http.stop();
    if (m_impl->listener.joinable()) {
        m_impl->listener.join();
    }
}

} // namespace caravan::sync::server
