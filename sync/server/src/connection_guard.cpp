#include "connection_guard.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

#include "caravan/sync/protocol.hpp"

namespace caravan::sync::server {

namespace {

using Clock = std::chrono::steady_clock;

thread_local StreamFailure t_failure = StreamFailure::none;

// Waits in slices so that a stopped server (its listening socket closed) ends the wait soon.
constexpr auto k_poll_slice = std::chrono::milliseconds(200);

std::string address_of(const sockaddr_storage& addr, int& port) {
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        port = ntohs(in6->sin6_port);
    } else {
        port = 0;
    }
    return text;
}

std::string peer_of(socket_t sock, int& port) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        port = 0;
        return {};
    }
    return address_of(addr, port);
}

// poll() for `events` until `deadline`; false on timeout, error, or a stopped server.
bool wait_for(socket_t sock, short events, Clock::time_point deadline,
              const std::atomic<socket_t>& server_socket) {
    for (;;) {
        const auto now = Clock::now();
        if (now >= deadline || server_socket == INVALID_SOCKET) {
            return false; // callers tell a timeout from a stop by the clock
        }
        // Rounded up, so that a timeout returns only once the deadline has passed.
        auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
        pollfd p{sock, events, 0};
        int r = ::poll(&p, 1, static_cast<int>(std::min(left, k_poll_slice).count()));
        if (r > 0) {
            return true; // readable, writable, or an error/hang-up the next call will report
        }
        if (r < 0 && errno != EINTR) {
            return false;
        }
    }
}

void send_canned(socket_t sock, int status, std::string_view reason, std::string_view code,
                 std::string_view message) {
    std::string body = R"({"error":{"code":")" + std::string(code) + R"(","message":")" +
                       std::string(message) + R"("},"retry_after":1})";
    std::string text = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                       "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n"
                       "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body;
    // Never waits: a refusal must cost nothing. What the peer already sent is dropped first, so
    // that closing does not reset the connection before it reads the answer (a peer that
    // sends more afterwards may still see a reset).
    char sink[4096];
    for (int i = 0; i < 16 && ::recv(sock, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
    }
    (void)::send(sock, text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    ::shutdown(sock, SHUT_WR);
}

// Reads and drops what the peer still sends, for a moment, so that closing does not reset the
// connection before the peer has read our answer.
void linger_close(socket_t sock) {
    ::shutdown(sock, SHUT_WR);
    const auto until = Clock::now() + std::chrono::milliseconds(200);
    char sink[4096];
    std::size_t dropped = 0;
    while (dropped < (256u << 10)) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
        if (left.count() <= 0) {
            break;
        }
        pollfd p{sock, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
            break;
        }
        ssize_t n = ::recv(sock, sink, sizeof sink, 0);
        if (n <= 0) {
            break;
        }
        dropped += static_cast<std::size_t>(n);
    }
}

// The Stream cpp-httplib's process_request() reads a request from and writes its answer to.
// Reads are buffered (cpp-httplib reads the request line and headers a byte at a time); every
// read and write is bounded by the request's deadlines.
class GuardedStream final : public httplib::Stream {
  public:
    GuardedStream(socket_t sock, SSL* ssl, std::string remote, int remote_port,
                  const ConnectionLimits& limits, const std::atomic<socket_t>& server_socket)
        : m_sock(sock), m_ssl(ssl), m_remote(std::move(remote)), m_remote_port(remote_port),
          m_limits(limits), m_server_socket(server_socket) {}

    // True once a byte of the next request is there (buffered or on the socket) before `until`.
    bool wait_for_request(Clock::time_point until) {
        if (buffered() > 0) {
            return true;
        }
        if (!fill(until)) {
            return false;
        }
        return buffered() > 0;
    }

    void begin_request(Clock::time_point start) {
        m_header_deadline = start + m_limits.header_timeout;
        m_request_deadline = start + m_limits.request_timeout;
        m_write_deadline.reset();
        m_wrote = false;
        m_in_headers = true;
        m_header_bytes = 0;
        m_header_lines = 0;
        m_line_length = 0;
    }

    bool is_readable() const override {
        if (buffered() > 0 || (m_ssl && SSL_pending(m_ssl) > 0)) {
            return true;
        }
        return wait_for(m_sock, POLLIN, read_deadline(), m_server_socket);
    }

    bool is_writable() const override {
        return wait_for(m_sock, POLLOUT, Clock::now() + m_limits.write_timeout, m_server_socket);
    }

    ssize_t read(char* ptr, size_t size) override {
        if (size == 0) {
            return 0;
        }
        if (buffered() == 0) {
            m_begin = m_end = 0;
            if (!fill(read_deadline())) {
                return -1;
            }
            if (buffered() == 0) {
                return 0; // the peer closed
            }
        }
        std::size_t n = std::min(size, buffered());
        if (m_in_headers) {
            // Count the request line and headers up to the blank line that ends them.
            for (std::size_t i = 0; i < n && m_in_headers; ++i) {
                char c = m_buffer[m_begin + i];
                if (++m_header_bytes > Limits::max_header_bytes) {
                    return refuse_headers();
                }
                if (c == '\n') {
                    if (m_line_length == 0) {
                        m_in_headers = false;
                    } else if (++m_header_lines > Limits::max_header_lines + 1) {
                        return refuse_headers(); // +1: the request line
                    }
                    m_line_length = 0;
                } else if (c != '\r') {
                    ++m_line_length;
                }
            }
        }
        std::memcpy(ptr, m_buffer + m_begin, n);
        m_begin += n;
        return static_cast<ssize_t>(n);
    }

    ssize_t write(const char* ptr, size_t size) override {
        m_wrote = true;
        // A stall limit, not a deadline for the whole answer: a large pull page or export may
        // take minutes over a slow link, but not write_timeout without any progress.
        m_write_deadline = Clock::now() + m_limits.write_timeout;
        std::size_t done = 0;
        while (done < size) {
            if (m_ssl) {
                ERR_clear_error();
                int r = SSL_write(m_ssl, ptr + done,
                                  static_cast<int>(std::min<std::size_t>(size - done, 1 << 30)));
                if (r > 0) {
                    done += static_cast<std::size_t>(r);
                    m_write_deadline = Clock::now() + m_limits.write_timeout;
                    continue;
                }
                int err = SSL_get_error(m_ssl, r);
                short events = err == SSL_ERROR_WANT_READ    ? POLLIN
                               : err == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                             : 0;
                if (events == 0 || !wait_for(m_sock, events, *m_write_deadline, m_server_socket)) {
                    return -1;
                }
                continue;
            }
            ssize_t r = ::send(m_sock, ptr + done, size - done, MSG_NOSIGNAL);
            if (r > 0) {
                done += static_cast<std::size_t>(r);
                m_write_deadline = Clock::now() + m_limits.write_timeout;
                continue;
            }
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
                wait_for(m_sock, POLLOUT, *m_write_deadline, m_server_socket)) {
                continue;
            }
            return -1;
        }
        return static_cast<ssize_t>(size);
    }

    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = m_remote;
        port = m_remote_port;
    }

    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(m_sock, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
            ip = address_of(addr, port);
        }
    }

    // cpp-httplib uses this only to answer 500 when the descriptor is past FD_SETSIZE (the
    // limit of its select()); this stream polls, so a high descriptor is no reason to fail.
    socket_t socket() const override { return m_sock < FD_SETSIZE ? m_sock : 0; }

    // Whether anything was written for the current request (an answer to deliver).
    [[nodiscard]] bool wrote() const { return m_wrote; }

  private:
    std::size_t buffered() const { return m_end - m_begin; }

    Clock::time_point read_deadline() const {
        return m_in_headers ? std::min(m_header_deadline, m_request_deadline) : m_request_deadline;
    }

    ssize_t refuse_headers() {
        t_failure = StreamFailure::headers_too_large;
        m_begin = m_end = 0;
        return -1;
    }

    // Reads what is there into the (empty) buffer, waiting until `deadline`. False on a
    // timeout (t_failure = deadline) or an error; true with an empty buffer at end of stream.
    bool fill(Clock::time_point deadline) {
        m_begin = m_end = 0;
        for (;;) {
            short events = 0;
            if (m_ssl) {
                ERR_clear_error();
                int r = SSL_read(m_ssl, m_buffer, sizeof m_buffer);
                if (r > 0) {
                    m_end = static_cast<std::size_t>(r);
                    return true;
                }
                int err = SSL_get_error(m_ssl, r);
                if (err == SSL_ERROR_ZERO_RETURN) {
                    return true;
                }
                events = err == SSL_ERROR_WANT_READ    ? POLLIN
                         : err == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                       : 0;
                if (events == 0) {
                    return false;
                }
            } else {
                ssize_t r = ::recv(m_sock, m_buffer, sizeof m_buffer, 0);
                if (r >= 0) {
                    m_end = static_cast<std::size_t>(r);
                    return true;
                }
                if (errno == EINTR) {
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    return false;
                }
                events = POLLIN;
            }
            if (!wait_for(m_sock, events, deadline, m_server_socket)) {
                if (Clock::now() >= deadline) {
                    t_failure = StreamFailure::deadline;
                }
                return false;
            }
        }
    }

    socket_t m_sock;
    SSL* m_ssl;
    std::string m_remote;
    int m_remote_port;
    const ConnectionLimits& m_limits;
    const std::atomic<socket_t>& m_server_socket;
    char m_buffer[16 << 10];
    std::size_t m_begin = 0;
    std::size_t m_end = 0;
    Clock::time_point m_header_deadline{};
    Clock::time_point m_request_deadline{};
    std::optional<Clock::time_point> m_write_deadline;
    bool m_wrote = false;
    bool m_in_headers = true;
    std::size_t m_header_bytes = 0;
    std::size_t m_header_lines = 0;
    std::size_t m_line_length = 0;
};

struct SslFree {
    void operator()(SSL* ssl) const noexcept { SSL_free(ssl); }
};

} // namespace

StreamFailure ConnectionGuard::last_failure() {
    return t_failure;
}

ConnectionGuard::Counts ConnectionGuard::counts() const {
    std::lock_guard lock(m_mutex);
    return Counts{m_open,
                  m_limits.max_connections,
                  m_by_address.size(),
                  m_refused_per_address,
                  m_refused_full,
                  m_timed_out,
                  m_headers_refused};
}

ConnectionGuard::Admission ConnectionGuard::admit(const std::string& address) {
    std::lock_guard lock(m_mutex);
    if (m_open >= m_limits.max_connections) {
        ++m_refused_full;
        return Admission::full;
    }
    auto it = m_by_address.find(address);
    if (it != m_by_address.end() && it->second >= m_limits.per_address) {
        ++m_refused_per_address;
        return Admission::per_address;
    }
    ++m_by_address[address];
    ++m_open;
    return Admission::admitted;
}

void ConnectionGuard::release(const std::string& address) {
    std::lock_guard lock(m_mutex);
    auto it = m_by_address.find(address);
    if (it != m_by_address.end() && --it->second == 0) {
        m_by_address.erase(it);
    }
    --m_open;
}

void ConnectionGuard::note(StreamFailure failure) {
    std::lock_guard lock(m_mutex);
    if (failure == StreamFailure::deadline) {
        ++m_timed_out;
    } else if (failure == StreamFailure::headers_too_large) {
        ++m_headers_refused;
    }
}

bool ConnectionGuard::serve(socket_t sock, const std::atomic<socket_t>& server_socket,
                            SSL_CTX* ssl_ctx, const Process& process) {
    const auto accepted = Clock::now();
    int remote_port = 0;
    const std::string remote = peer_of(sock, remote_port);
    struct Closer {
        socket_t sock;
        ~Closer() {
            ::shutdown(sock, SHUT_RDWR);
            ::close(sock);
        }
    } closer{sock};

    switch (admit(remote)) {
    case Admission::admitted:
        break;
    case Admission::per_address:
        if (!ssl_ctx) {
            send_canned(sock, 429, "Too Many Requests", "slow_down",
                        "too many connections from this address");
        }
        return false;
    case Admission::full:
        if (!ssl_ctx) {
            send_canned(sock, 503, "Service Unavailable", "unavailable",
                        "every connection slot is taken");
        }
        return false;
    }
    struct Release {
        ConnectionGuard& guard;
        const std::string& address;
        ~Release() { guard.release(address); }
    } release{*this, remote};

    int flags = ::fcntl(sock, F_GETFL, 0);
    if (flags < 0 || ::fcntl(sock, F_SETFL, flags | O_NONBLOCK) < 0) {
        return false;
    }

    std::unique_ptr<SSL, SslFree> ssl;
    if (ssl_ctx) {
        ssl.reset(SSL_new(ssl_ctx));
        if (!ssl || SSL_set_fd(ssl.get(), sock) != 1) {
            return false;
        }
        const auto deadline = accepted + m_limits.header_timeout;
        for (;;) {
            ERR_clear_error();
            int r = SSL_accept(ssl.get());
            if (r == 1) {
                break;
            }
            int err = SSL_get_error(ssl.get(), r);
            short events = err == SSL_ERROR_WANT_READ    ? POLLIN
                           : err == SSL_ERROR_WANT_WRITE ? POLLOUT
                                                         : 0;
            if (events == 0) {
                return false;
            }
            if (!wait_for(sock, events, deadline, server_socket)) {
                if (Clock::now() >= deadline) {
                    note(StreamFailure::deadline);
                }
                return false;
            }
        }
    }

    GuardedStream stream(sock, ssl.get(), remote, remote_port, m_limits, server_socket);
    SSL* raw_ssl = ssl.get();
    std::function<void(httplib::Request&)> setup;
    if (raw_ssl) {
        setup = [raw_ssl](httplib::Request& req) { req.ssl = raw_ssl; };
    }
    bool ret = false;
    bool first = true;
    for (std::size_t left = std::max<std::size_t>(1, m_limits.keep_alive_max_count);
         left > 0 && server_socket != INVALID_SOCKET; --left) {
        // A new connection has the header deadline to start its first request; a kept-alive
        // one the (shorter) idle timeout to start the next.
        const auto wait_until =
            first ? accepted + m_limits.header_timeout : Clock::now() + m_limits.idle_timeout;
        t_failure = StreamFailure::none;
        if (!stream.wait_for_request(wait_until)) {
            if (first && t_failure == StreamFailure::deadline) {
                note(StreamFailure::deadline);
            }
            ret = false;
            break;
        }
        stream.begin_request(first ? accepted : Clock::now());
        bool closed = false;
        ret = process(stream, left == 1, closed, setup);
        if (t_failure != StreamFailure::none) {
            // The rest of this request is unknown: nothing more is read from the connection.
            note(t_failure);
            if (!raw_ssl && stream.wrote()) {
                linger_close(sock);
            }
            ret = false;
            break;
        }
        if (!ret || closed) {
            break;
        }
        first = false;
    }
    t_failure = StreamFailure::none;
    if (raw_ssl && ret) {
        (void)SSL_shutdown(raw_ssl); // one non-blocking attempt: close_notify, no wait
    }
    return ret;
}

void widen_backlog(httplib::Server& server, int backlog) {
    if (auto* plain = dynamic_cast<GuardedServer*>(&server)) {
        plain->widen_backlog(backlog);
    } else if (auto* tls = dynamic_cast<GuardedSslServer*>(&server)) {
        tls->widen_backlog(backlog);
    }
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
    return m_guard->serve(
        sock, svr_sock_, nullptr,
        [this](httplib::Stream& strm, bool close_connection, bool& connection_closed,
               const std::function<void(httplib::Request&)>& setup) {
            return process_request(strm, close_connection, connection_closed, setup);
        });
}

bool GuardedSslServer::process_and_close_socket(socket_t sock) {
    return m_guard->serve(
        sock, svr_sock_, ssl_context(),
        [this](httplib::Stream& strm, bool close_connection, bool& connection_closed,
               const std::function<void(httplib::Request&)>& setup) {
            return process_request(strm, close_connection, connection_closed, setup);
        });
}

} // namespace caravan::sync::server
