#pragma once
// The server's own connection loop (private to sync/server). cpp-httplib 0.11.4 is a compiled
// library whose limits are macros fixed at its build: a read timeout per read (not per request),
// no bound on the number or total size of header lines, no per-address accounting. So the
// listening object is a subclass (GuardedServer, GuardedSslServer) that overrides
// process_and_close_socket() and runs each connection itself:
// - admission: at most `per_address` connections from one address and `max_connections` in all
//   are served at once; an extra one is answered at once with a canned 429 (per address) or
//   503 (all slots taken) and closed, before a byte of its request is read;
// - the keep-alive loop, and for each request a Stream over the socket (buffered reads) that
//   fails a read once the request's deadline has passed (`header_timeout` for the request line
//   and headers, `request_timeout` for the whole request, body included) or once the request
//   line and headers exceed Limits::max_header_bytes / max_header_lines. What tripped is kept
//   in a thread-local (last_failure()) so that the error handler can answer 408 or 431
//   instead of cpp-httplib's plain 400;
// - for TLS, SSL_accept under the header deadline, then the same Stream over SSL_read/SSL_write.
// A response write that makes no progress for `write_timeout` fails (the connection is closed).
//
// Threads: ConnectionGuard is shared by every worker; its counters are under its own mutex.

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace caravan::sync::server {

struct ConnectionLimits {
    std::size_t per_address = 32;
    std::size_t max_connections = 512;
    std::chrono::milliseconds header_timeout{20000};
    std::chrono::milliseconds request_timeout{120000};
    std::chrono::milliseconds idle_timeout{2000}; // between requests on a kept-alive connection
    std::chrono::milliseconds write_timeout{30000};
    std::size_t keep_alive_max_count = 100;
};

// Why the current request's stream stopped reading (per worker thread, reset per request).
enum class StreamFailure { none, deadline, headers_too_large };

class ConnectionGuard {
  public:
    explicit ConnectionGuard(ConnectionLimits limits) : m_limits(limits) {}

    struct Counts {
        std::size_t open = 0;      // connections being served
        std::size_t max = 0;       // max_connections
        std::size_t addresses = 0; // distinct addresses among them
        std::uint64_t refused_per_address = 0;
        std::uint64_t refused_full = 0;
        std::uint64_t timed_out = 0;
        std::uint64_t headers_refused = 0;
    };
    [[nodiscard]] Counts counts() const;
    [[nodiscard]] const ConnectionLimits& limits() const { return m_limits; }

    // The failure of the request being served on this thread (StreamFailure::none if none).
    [[nodiscard]] static StreamFailure last_failure();

    // Serves one accepted socket to the end and closes it. `process` is Server::process_request
    // (given by the subclass, which may call it); `ssl_ctx` null for plain HTTP.
    using Process =
        std::function<bool(httplib::Stream&, bool close_connection, bool& connection_closed,
                           const std::function<void(httplib::Request&)>& setup)>;
    bool serve(socket_t sock, const std::atomic<socket_t>& server_socket, SSL_CTX* ssl_ctx,
               const Process& process);

  private:
    enum class Admission { admitted, per_address, full };
    Admission admit(const std::string& address);
    void release(const std::string& address);
    void note(StreamFailure failure);

    const ConnectionLimits m_limits;
    mutable std::mutex m_mutex;
    std::map<std::string, std::size_t> m_by_address;
    std::size_t m_open = 0;
    std::uint64_t m_refused_per_address = 0;
    std::uint64_t m_refused_full = 0;
    std::uint64_t m_timed_out = 0;
    std::uint64_t m_headers_refused = 0;
};

// cpp-httplib listens with a backlog of 5 (a build-time macro): a burst of connections (the
// nightly sync window, or an attacker's) then waits for SYN retransmissions, a second or more.
// Called after binding, this widens the listening socket's backlog (capped by the kernel's
// somaxconn). No effect on an object that is not a GuardedServer or GuardedSslServer.
void widen_backlog(httplib::Server& server, int backlog);

class GuardedServer final : public httplib::Server {
  public:
    explicit GuardedServer(std::shared_ptr<ConnectionGuard> guard) : m_guard(std::move(guard)) {}
    void widen_backlog(int backlog) { ::listen(svr_sock_, backlog); }

  private:
    bool process_and_close_socket(socket_t sock) override;
    std::shared_ptr<ConnectionGuard> m_guard;
};

class GuardedSslServer final : public httplib::SSLServer {
  public:
    GuardedSslServer(std::shared_ptr<ConnectionGuard> guard,
                     const std::function<bool(SSL_CTX&)>& setup)
        : httplib::SSLServer(setup), m_guard(std::move(guard)) {}
    void widen_backlog(int backlog) { ::listen(svr_sock_, backlog); }

  private:
    bool process_and_close_socket(socket_t sock) override;
    std::shared_ptr<ConnectionGuard> m_guard;
};

} // namespace caravan::sync::server
