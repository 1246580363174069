#pragma once
// A small HTTP/1.1-aware TCP proxy on 127.0.0.1 for fault tests: it sits between `caravan` and
// `caravan-server` and, per request and by configured probabilities, drops the connection at a
// random byte offset of the request or of the response, truncates a response body, duplicates
// a request (the server receives it twice), answers 500/503 itself, or delays responses.
//
// Contract:
// - Client-side connections are kept alive as the client wishes; each request goes to the
//   server on a fresh connection (so a request is never half-delivered by accident).
// - A dropped or truncated response means the server DID process the request: the dangerous
//   case for exactly-once. A dropped request means the server never saw it whole.
// - Faults are drawn from a seeded generator under a lock: a run is reproducible as far as
//   thread scheduling allows.
// - The upstream port can change (a restarted server listens elsewhere).
// - The destructor stops accepting, closes every connection and joins every thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace caravan::test {

struct Faults {
    double drop_request = 0;            // forward a random prefix of the request, then close both
    double drop_response = 0;           // forward a random prefix of the response, then close
    double truncate_response = 0;       // forward the head and part of the body, then close
    double duplicate_request = 0;       // the server receives the request twice
    double error_500 = 0;               // the proxy answers 500 itself
    double error_503 = 0;               // the proxy answers 503 with Retry-After: 1 itself
    std::chrono::milliseconds delay{0}; // before forwarding each response
    std::uint64_t seed = 1;
};

struct ProxyStats {
    int requests = 0;
    int dropped_requests = 0;
    int dropped_responses = 0;
    int truncated = 0;
    int duplicated = 0;
    int errors = 0; // 500/503 answered by the proxy
    int upstream_failures = 0;
};

class FaultProxy {
  public:
    explicit FaultProxy(int upstream_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(m_port); }
    void set_faults(const Faults& faults);
    void set_upstream(int port) { m_upstream.store(port); }
    [[nodiscard]] ProxyStats stats() const;

    // Runs after the server's response to a request was read and before it is forwarded, with
    // the request's path (e.g. "/v1/push"). Tests use it to kill the client at a known point.
    void on_response(std::function<void(const std::string& path)> hook);

  private:
    struct Shared;
    void accept_loop();
    void serve(int client_fd);

    int m_listen_fd = -1;
    int m_port = 0;
    std::atomic<int> m_upstream;
    std::shared_ptr<Shared> m_shared;
    std::thread m_acceptor;
};

} // namespace caravan::test
