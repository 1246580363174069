#pragma once
// The HTTP side of the sync server (docs/protocol.md): /v1/enroll, /v1/status, /v1/push,
// /v1/pull, /v1/verify and /v1/health on cpp-httplib.
//
// Contract:
// - start() takes the data directory's lock, opens (creating if needed) the store, binds and
//   listens on a background thread, and returns once requests are being served. The bound port
//   is port() (useful with port 0).
// - Each request borrows a Store (store.hpp) from a pool: a SQLite connection, or, with
//   store_url, a PostgreSQL store whose connections come from one bounded pool per process and
//   whose guarantees hold across processes (docs/decisions/0006-postgresql-store.md). Writes (push, enroll, the
//   pull report) are serialised by one in-process mutex held only around the write transaction;
//   reads never wait for it.
// - Request bodies are bounded before they are held in memory: 8 MiB as sent when not
//   compressed, 4 MiB as sent and 8 MiB decoded when compressed (gzip or zstd); a JSON body of
//   more than Limits::max_json_values values is refused before it is parsed. The request line
//   and headers are bounded too (Limits::max_header_bytes / max_header_lines: 431).
// - No Store connection is held while a request body arrives.
// - /v1/health answers 503 with its figures when workers, store connections or connection
//   slots are exhausted.
// - One access-log line per request goes to the log sink: method, route, status, short device
//   id, bytes in and out, milliseconds, error code. Never a body, a name or a query value.
// - stop() finishes the requests in progress and returns; it is idempotent and called by the
//   destructor.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "caravan/storage/result.hpp"

namespace httplib {
class Server;
} // namespace httplib

namespace caravan::sync::server {

class Store;

// What a front end mounted beside the API receives (the coordinator's dashboard, cli/dashboard;
// the server knows nothing more of it). It adds its own routes to `http` before the server
// listens; they must leave /v1/ alone (the API's), answer every refusal with a body, and take
// Stores only through with_store.
struct FrontEndContext {
    httplib::Server* http = nullptr;
    // Runs `work` with a Store lent from the server's pool: a connection of its own, whose
    // reads never wait for a push. `write`: the server's write lock is held around `work` too
    // (as around a push), so keep such work to one short transaction.
    std::function<Result<void>(bool write, const std::function<Result<void>(Store&)>& work)>
        with_store;
    bool tls = false;
    std::function<std::int64_t()> clock;            // Unix ms
    std::function<void(std::string_view line)> log; // the server's log; no personal data
};
using FrontEnd = std::function<void(const FrontEndContext&)>;

struct ServerOptions {
    std::filesystem::path data_dir;
    // A postgresql:// URL: the registry and the feed live in that database, shared with any other
    // server process on it; data_dir then holds only this process's projection cache. Empty:
    // the embedded store, data_dir/server.db.
    std::string store_url;
    // PostgreSQL connections this process opens at most (shared by its workers).
    std::size_t pg_pool_size = 16;
    std::string host = "127.0.0.1";
    int port = 8080; // 0: any free port
    // HTTPS when both are set (PEM files: the certificate chain, leaf first, and its private
    // key); plain HTTP when both are empty. start() refuses one without the other, an
    // unreadable or unparsable file, and a key that does not match the certificate
    // (invalid_input, naming the option). TLS 1.2 is the minimum version offered.
    std::filesystem::path tls_cert;
    std::filesystem::path tls_key;
    // Worker threads, and SQLite connections. A keep-alive connection holds its worker, so this
    // should be at least the number of devices that sync at the same time: beyond it,
    // connections queue behind whole sessions instead of behind single requests.
    std::size_t threads = 64;
    // Enrollment guesses: this many wrong codes from one address within the window → 429.
    std::size_t enroll_max_failures = 10;
    std::int64_t enroll_window_ms = 10 * 60 * 1000;
    // Resource limits (docs/security.md "Resource exhaustion"). Connections served at once from
    // one client address, and in all (0: one per possible worker, max(8 x threads, 512)); an
    // extra connection is answered 429 (per address) or 503 and closed before it is read.
    std::size_t max_connections_per_address = 32;
    std::size_t max_connections = 0;
    // Deadlines of one request, counted from its first byte (from the accept for a
    // connection's first request): the request line and headers, and the whole request with
    // its body. Past them the request is answered 408 and its connection closed.
    int header_timeout_ms = 20000;
    int request_timeout_ms = 120000;
    int busy_timeout_ms = 10000;
    bool access_log = true;
    // Receives each log line (without newline); stderr when empty. Called from worker threads.
    std::function<void(std::string_view)> log_sink;
    std::function<std::int64_t()> clock; // Unix ms; the system clock when empty
    // Mounted once, before listening, on the same port (and TLS) as the API; none when empty.
    FrontEnd front_end;
};

class Server {
  public:
    [[nodiscard]] static Result<std::unique_ptr<Server>> start(ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    [[nodiscard]] int port() const;
    [[nodiscard]] const std::string& host() const;
    [[nodiscard]] bool tls() const;
    // False once the listener has ended (after stop(), or if it failed).
    [[nodiscard]] bool running() const;
    void stop();

  private:
    struct Impl;
    explicit Server(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace caravan::sync::server
