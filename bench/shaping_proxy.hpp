#pragma once
// A TCP proxy on 127.0.0.1 that makes loopback behave like a slow rural link, for the sync
// benchmark (this kernel has no netem). Between the client and the server it models:
//
// - Rate: each direction is a serial link of `rate_bytes_per_s`; a segment of `segment_bytes`
//   leaves when the link is free and takes size / rate to cross it (the link is shared by every
//   connection through the proxy, as one modem would be).
// - Delay: every segment arrives `one_way_delay` after it left the link; order is preserved.
// - Connection set-up: a new connection's first request byte may leave only after one round
//   trip (the TCP handshake the loopback connect skipped).
// - Loss, two ways (docs/performance.md says why): `segment_loss` is the probability that a
//   segment is lost and retransmitted after `retransmit_timeout` (the link idles meanwhile and
//   later segments wait behind it, as TCP's in-order delivery makes them); `reset_per_segment`
//   is the probability that a segment instead kills the connection (both sides see it closed).
//
// Not modelled: TCP/IP header bytes (about 3 % at 1460-byte segments), ACK traffic, slow start
// and congestion window growth, bursts of loss. Every thread is joined by the destructor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace caravan::bench {

struct LinkProfile {
    double rate_bytes_per_s = 8000; // 64 kbit/s
    std::chrono::milliseconds one_way_delay{250};
    std::size_t segment_bytes = 1460;
    double segment_loss = 0;
    std::chrono::milliseconds retransmit_timeout{700};
    double reset_per_segment = 0;
    std::uint64_t seed = 1;
};

struct LinkStats {
    std::int64_t bytes_up = 0;   // client → server, payload bytes delivered
    std::int64_t bytes_down = 0; // server → client
    int connections = 0;
    int lost_segments = 0; // retransmitted after a timeout
    int resets = 0;
};

class ShapingProxy {
  public:
    ShapingProxy(int upstream_port, LinkProfile profile);
    ~ShapingProxy();
    ShapingProxy(const ShapingProxy&) = delete;
    ShapingProxy& operator=(const ShapingProxy&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] LinkStats stats() const;

    struct Shared;

  private:
    void accept_loop();

    int m_listen_fd = -1;
    int m_port = 0;
    int m_upstream_port = 0;
    std::shared_ptr<Shared> m_shared;
    std::thread m_acceptor;
};

} // namespace caravan::bench
