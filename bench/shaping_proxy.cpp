#include "shaping_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

namespace caravan::bench {

using Clock = std::chrono::steady_clock;

namespace {

enum Direction { up = 0, down = 1 };

// One proxied connection: the two pumps share it; the last one out closes both sockets.
struct Connection {
    int client_fd = -1;
    int server_fd = -1;
    std::atomic<bool> dead{false};
    std::atomic<int> pumps{2};
    Clock::time_point opened;

    void kill() {
        if (!dead.exchange(true)) {
            ::shutdown(client_fd, SHUT_RDWR);
            ::shutdown(server_fd, SHUT_RDWR);
        }
    }
    void leave() {
        if (pumps.fetch_sub(1) == 1) {
            ::close(client_fd);
            ::close(server_fd);
        }
    }
};

struct Segment {
    Clock::time_point deliver;
    std::string data; // empty: the sender closed its side
};

bool send_all(int fd, const char* data, std::size_t n) {
    while (n > 0) {
        ssize_t sent = ::send(fd, data, n, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) {
            continue;
        }
        if (sent <= 0) {
            return false;
        }
        data += sent;
        n -= static_cast<std::size_t>(sent);
    }
    return true;
}

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

} // namespace

struct ShapingProxy::Shared {
    LinkProfile profile;
    std::mutex mutex;
    std::mt19937_64 rng;
    LinkStats stats;
    Clock::time_point link_free[2];
    std::atomic<bool> stopping{false};
    std::vector<std::thread> threads;

    explicit Shared(LinkProfile p) : profile(p), rng(p.seed) {}

    double draw() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); }

    // When a segment read now from `dir` arrives at the far end; nullopt when it kills the
    // connection instead.
    std::optional<Clock::time_point> schedule(Direction dir, std::size_t size,
                                              Clock::time_point earliest) {
        std::lock_guard lock(mutex);
        Clock::time_point t = std::max({link_free[dir], Clock::now(), earliest});
        const Clock::duration on_wire =
            seconds(static_cast<double>(size) / profile.rate_bytes_per_s);
        if (profile.reset_per_segment > 0 && draw() < profile.reset_per_segment) {
            ++stats.resets;
            link_free[dir] = t + on_wire; // the segment was sent, and lost with the connection
            return std::nullopt;
        }
        t += on_wire;
        if (profile.segment_loss > 0 && draw() < profile.segment_loss) {
            ++stats.lost_segments;
            t += profile.retransmit_timeout + on_wire; // sent again once the timer fires
        }
        link_free[dir] = t;
        return t + profile.one_way_delay;
    }

    void delivered(Direction dir, std::size_t n) {
        std::lock_guard lock(mutex);
        (dir == up ? stats.bytes_up : stats.bytes_down) += static_cast<std::int64_t>(n);
    }
};

namespace {

// Moves bytes from `src` to `dst` as the link would, until either side closes, the connection
// is killed, or the proxy stops.
void pump(ShapingProxy::Shared& shared, Connection& conn, Direction dir) {
    const int src = dir == up ? conn.client_fd : conn.server_fd;
    const int dst = dir == up ? conn.server_fd : conn.client_fd;
    // The handshake: the client's first byte leaves one round trip after it connected.
    const Clock::time_point earliest =
        dir == up ? conn.opened + 2 * shared.profile.one_way_delay : Clock::time_point{};
    const std::size_t seg = std::max<std::size_t>(1, shared.profile.segment_bytes);
    constexpr std::size_t k_max_queued = 256 << 10; // beyond that, the sender's socket fills up
    std::deque<Segment> queue;
    std::size_t queued = 0;
    bool src_closed = false;
    std::string buf(64 << 10, '\0');
    while (!shared.stopping.load() && !conn.dead.load()) {
        Clock::time_point now = Clock::now();
        bool finished = false;
        while (!queue.empty() && queue.front().deliver <= now) {
            Segment& s = queue.front();
            if (s.data.empty()) {
                ::shutdown(dst, SHUT_WR);
                finished = true;
                break;
            }
            if (!send_all(dst, s.data.data(), s.data.size())) {
                conn.kill();
                finished = true;
                break;
            }
            shared.delivered(dir, s.data.size());
            queued -= s.data.size();
            queue.pop_front();
        }
        if (finished) {
            break;
        }
        int timeout_ms = 50;
        if (!queue.empty()) {
            auto wait =
                std::chrono::duration_cast<std::chrono::milliseconds>(queue.front().deliver - now)
                    .count() +
                1;
            timeout_ms = static_cast<int>(std::clamp<long long>(wait, 0, 50));
        }
        const bool want_read = !src_closed && queued < k_max_queued;
        pollfd p{src, static_cast<short>(want_read ? POLLIN : 0), 0};
        int r = ::poll(&p, 1, timeout_ms);
        if (r < 0 && errno != EINTR) {
            conn.kill();
            break;
        }
        if (r <= 0 || !want_read || (p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
            continue;
        }
        ssize_t n = ::recv(src, buf.data(), buf.size(), 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            src_closed = true;
            // The FIN travels like a segment, behind the data.
            Clock::time_point at =
                std::max(Clock::now(), queue.empty() ? Clock::time_point{} : queue.back().deliver);
            queue.push_back({at + shared.profile.one_way_delay, std::string()});
            continue;
        }
        for (std::size_t off = 0; off < static_cast<std::size_t>(n); off += seg) {
            std::size_t len = std::min(seg, static_cast<std::size_t>(n) - off);
            auto deliver = shared.schedule(dir, len, earliest);
            if (!deliver) {
                conn.kill();
                break;
            }
            queue.push_back({*deliver, buf.substr(off, len)});
            queued += len;
        }
    }
    conn.leave();
}

} // namespace

ShapingProxy::ShapingProxy(int upstream_port, LinkProfile profile)
    : m_upstream_port(upstream_port), m_shared(std::make_shared<Shared>(profile)) {
    m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listen_fd < 0) {
        throw std::runtime_error("shaping proxy: socket");
    }
    int yes = 1;
    ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_listen_fd, 64) != 0 ||
        ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(m_listen_fd);
        throw std::runtime_error("shaping proxy: cannot listen on 127.0.0.1");
    }
    m_port = ntohs(addr.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
}

ShapingProxy::~ShapingProxy() {
    m_shared->stopping = true;
    if (m_acceptor.joinable()) {
        m_acceptor.join();
    }
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(m_shared->mutex);
        threads.swap(m_shared->threads);
    }
    for (auto& t : threads) {
        t.join(); // each pump polls with a 50 ms timeout and sees `stopping`
    }
    ::close(m_listen_fd);
}

LinkStats ShapingProxy::stats() const {
    std::lock_guard lock(m_shared->mutex);
    return m_shared->stats;
}

void ShapingProxy::accept_loop() {
    while (!m_shared->stopping.load()) {
        pollfd p{m_listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) {
            continue;
        }
        int client = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0) {
            continue;
        }
        int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(m_upstream_port));
        if (server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            if (server >= 0) {
                ::close(server);
            }
            ::close(client);
            continue;
        }
        int yes = 1;
        ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
        auto conn = std::make_shared<Connection>();
        conn->client_fd = client;
        conn->server_fd = server;
        conn->opened = Clock::now();
        std::lock_guard lock(m_shared->mutex);
        ++m_shared->stats.connections;
        Shared* shared = m_shared.get();
        m_shared->threads.emplace_back([shared, conn] { pump(*shared, *conn, up); });
        m_shared->threads.emplace_back([shared, conn] { pump(*shared, *conn, down); });
    }
}

} // namespace caravan::bench
