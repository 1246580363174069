#include "fault_proxy.hpp"
#include "loopback.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>

namespace caravan::test {

struct FaultProxy::Shared {
    std::mutex mutex;
    Faults faults;
    std::mt19937_64 rng{1};
    ProxyStats stats;
    std::function<void(const std::string&)> hook;
    std::atomic<bool> stopping{false};
    std::vector<std::thread> workers;
    std::set<int> open_fds;

    double draw() {
        std::uniform_real_distribution<double> d(0.0, 1.0);
        return d(rng);
    }
    std::size_t below(std::size_t n) {
        if (n == 0) {
            return 0;
        }
        std::uniform_int_distribution<std::size_t> d(0, n - 1);
        return d(rng);
    }
    void track(int fd) {
        std::lock_guard lock(mutex);
        open_fds.insert(fd);
    }
    void untrack_and_close(int& fd) {
        if (fd < 0) {
            return;
        }
        {
            std::lock_guard lock(mutex);
            open_fds.erase(fd);
        }
        ::close(fd);
        fd = -1;
    }
};

namespace {

// Appends what arrives on `fd`; false at EOF, on error, or when the proxy stops.
bool read_more(int fd, std::string& buf, const std::atomic<bool>& stopping) {
    char chunk[65536];
    while (!stopping.load()) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 100);
        if (r < 0 && errno != EINTR) {
            return false;
        }
        if (r <= 0) {
            continue;
        }
        ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) {
            return false;
        }
        buf.append(chunk, static_cast<std::size_t>(n));
        return true;
    }
    return false;
}

bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

struct Message {
    std::string bytes; // the whole message as received
    std::size_t head_size = 0;
    std::string first_line; // "POST /v1/push HTTP/1.1" or "HTTP/1.1 200 OK"
    bool close = false;     // "Connection: close"
};

// Reads one HTTP message from `fd` (leftover bytes stay in `buf`). A response without length
// is read to EOF.
std::optional<Message> read_message(int fd, std::string& buf, bool response,
                                    const std::atomic<bool>& stopping) {
    std::size_t head_end;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (buf.size() > (1 << 20) || !read_more(fd, buf, stopping)) {
            return std::nullopt;
        }
    }
    Message m;
    m.head_size = head_end + 4;
    std::string head = lower(buf.substr(0, m.head_size));
    m.first_line = buf.substr(0, buf.find("\r\n"));
    m.close = head.find("\r\nconnection: close") != std::string::npos;
    auto header_value = [&](std::string_view name) -> std::optional<std::string> {
        std::string key = "\r\n" + std::string(name) + ":";
        auto pos = head.find(key);
        if (pos == std::string::npos) {
            return std::nullopt;
        }
        pos += key.size();
        auto end = head.find("\r\n", pos);
        std::string value = head.substr(pos, end - pos);
        value.erase(0, value.find_first_not_of(' '));
        return value;
    };
    std::size_t total = m.head_size;
    if (auto length = header_value("content-length")) {
        total += static_cast<std::size_t>(std::stoull(*length));
        while (buf.size() < total) {
            if (!read_more(fd, buf, stopping)) {
                return std::nullopt;
            }
        }
    } else if (auto te = header_value("transfer-encoding"); te && *te == "chunked") {
        std::size_t pos = m.head_size;
        for (;;) {
            std::size_t line_end;
            while ((line_end = buf.find("\r\n", pos)) == std::string::npos) {
                if (!read_more(fd, buf, stopping)) {
                    return std::nullopt;
                }
            }
            std::size_t size = std::stoull(buf.substr(pos, line_end - pos), nullptr, 16);
            std::size_t need = line_end + 2 + size + 2;
            while (buf.size() < need) {
                if (!read_more(fd, buf, stopping)) {
                    return std::nullopt;
                }
            }
            pos = need;
            if (size == 0) {
                break;
            }
        }
        total = pos;
    } else if (response) {
        while (read_more(fd, buf, stopping)) {
        }
        total = buf.size();
        m.close = true;
    }
    m.bytes = buf.substr(0, total);
    buf.erase(0, total);
    return m;
}

int connect_to(int port) {
    int fd = connect_loopback(port);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

std::string canned(int status, std::string_view reason, std::string_view code, bool retry_after) {
    std::string body = std::string(R"({"error":{"code":")") + std::string(code) +
                       R"(","message":"injected by the fault proxy"}})";
    std::string head = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) +
                       "\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n";
    if (retry_after) {
        head += "Retry-After: 1\r\n";
    }
    return head + "\r\n" + body;
}

} // namespace

FaultProxy::FaultProxy(int upstream_port)
    : m_upstream(upstream_port), m_shared(std::make_shared<Shared>()) {
    m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_listen_fd < 0) {
        throw std::runtime_error("fault proxy: socket failed");
    }
    int one = 1;
    ::setsockopt(m_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(m_listen_fd, 64) != 0) {
        ::close(m_listen_fd);
        throw std::runtime_error("fault proxy: bind/listen failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
    m_port = ntohs(addr.sin_port);
    m_acceptor = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
    m_shared->stopping.store(true);
    if (m_acceptor.joinable()) {
        m_acceptor.join();
    }
    ::close(m_listen_fd);
    {
        std::lock_guard lock(m_shared->mutex);
        for (int fd : m_shared->open_fds) {
            ::shutdown(fd, SHUT_RDWR);
        }
    }
    std::vector<std::thread> workers;
    {
        std::lock_guard lock(m_shared->mutex);
        workers.swap(m_shared->workers);
    }
    for (auto& t : workers) {
        if (t.joinable()) {
            t.join();
        }
    }
}

void FaultProxy::set_faults(const Faults& faults) {
    std::lock_guard lock(m_shared->mutex);
    m_shared->faults = faults;
    m_shared->rng.seed(faults.seed);
}

ProxyStats FaultProxy::stats() const {
    std::lock_guard lock(m_shared->mutex);
    return m_shared->stats;
}

void FaultProxy::on_response(std::function<void(const std::string&)> hook) {
    std::lock_guard lock(m_shared->mutex);
    m_shared->hook = std::move(hook);
}

void FaultProxy::accept_loop() {
    while (!m_shared->stopping.load()) {
        pollfd p{m_listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        m_shared->track(fd);
        std::lock_guard lock(m_shared->mutex);
        m_shared->workers.emplace_back([this, fd] { serve(fd); });
    }
}

void FaultProxy::serve(int client_fd) {
    Shared& s = *m_shared;
    std::string from_client;
    for (;;) {
        auto request = read_message(client_fd, from_client, false, s.stopping);
        if (!request) {
            break;
        }
        std::string path = request->first_line;
        if (auto sp = path.find(' '); sp != std::string::npos) {
            path = path.substr(sp + 1);
            path = path.substr(0, path.find_first_of(" ?"));
        }
        enum class Act { forward, drop_request, drop_response, truncate, duplicate, e500, e503 };
        Act act = Act::forward;
        std::size_t cut = 0;
        std::chrono::milliseconds delay{0};
        {
            std::lock_guard lock(s.mutex);
            ++s.stats.requests;
            const Faults& f = s.faults;
            double roll = s.draw();
            double edge = 0;
            for (auto [p, a] : {std::pair{f.drop_request, Act::drop_request},
                                {f.drop_response, Act::drop_response},
                                {f.truncate_response, Act::truncate},
                                {f.duplicate_request, Act::duplicate},
                                {f.error_500, Act::e500},
                                {f.error_503, Act::e503}}) {
                edge += p;
                if (roll < edge) {
                    act = a;
                    break;
                }
            }
            cut = static_cast<std::size_t>(s.rng());
            delay = f.delay;
            switch (act) {
            case Act::drop_request:
                ++s.stats.dropped_requests;
                break;
            case Act::drop_response:
                ++s.stats.dropped_responses;
                break;
            case Act::truncate:
                ++s.stats.truncated;
                break;
            case Act::duplicate:
                ++s.stats.duplicated;
                break;
            case Act::e500:
            case Act::e503:
                ++s.stats.errors;
                break;
            case Act::forward:
                break;
            }
        }
        if (act == Act::e500 || act == Act::e503) {
            std::string reply = act == Act::e500
                                    ? canned(500, "Internal Server Error", "internal", false)
                                    : canned(503, "Service Unavailable", "unavailable", true);
            if (!write_all(client_fd, reply.data(), reply.size())) {
                break;
            }
            continue;
        }
        if (act == Act::duplicate) {
            // The first copy goes on its own connection and its answer is thrown away.
            int extra = connect_to(m_upstream.load());
            if (extra >= 0) {
                s.track(extra);
                std::string buf;
                if (write_all(extra, request->bytes.data(), request->bytes.size())) {
                    (void)read_message(extra, buf, true, s.stopping);
                }
                s.untrack_and_close(extra);
            }
        }
        int upstream = connect_to(m_upstream.load());
        if (upstream < 0) {
            std::lock_guard lock(s.mutex);
            ++s.stats.upstream_failures;
            break; // the client sees the connection drop, as it would with the server down
        }
        s.track(upstream);
        if (act == Act::drop_request) {
            std::size_t n = cut % std::max<std::size_t>(request->bytes.size(), 1);
            (void)write_all(upstream, request->bytes.data(), n);
            s.untrack_and_close(upstream);
            break;
        }
        std::string from_server;
        std::optional<Message> response;
        if (write_all(upstream, request->bytes.data(), request->bytes.size())) {
            response = read_message(upstream, from_server, true, s.stopping);
        }
        s.untrack_and_close(upstream);
        if (!response) {
            std::lock_guard lock(s.mutex);
            ++s.stats.upstream_failures;
            break;
        }
        std::function<void(const std::string&)> hook;
        {
            std::lock_guard lock(s.mutex);
            hook = s.hook;
        }
        if (hook) {
            hook(path);
        }
        if (delay.count() > 0) {
            std::this_thread::sleep_for(delay);
        }
        const std::string& bytes = response->bytes;
        if (act == Act::drop_response) {
            (void)write_all(client_fd, bytes.data(), cut % std::max<std::size_t>(bytes.size(), 1));
            break;
        }
        if (act == Act::truncate) {
            std::size_t body = bytes.size() - response->head_size;
            std::size_t n = response->head_size + (body > 0 ? cut % body : 0);
            (void)write_all(client_fd, bytes.data(), n);
            break;
        }
        if (!write_all(client_fd, bytes.data(), bytes.size()) || response->close) {
            break;
        }
    }
    s.untrack_and_close(client_fd);
}

} // namespace caravan::test
