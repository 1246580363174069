#pragma once
// The libcurl implementation of Transport, tuned for 2G/EDGE links that stall and drop.
//
// Contract:
// - One easy handle is reused for every request, so the TCP/TLS connection is kept alive
//   between the requests of one sync.
// - No short total timeout: a slow link may take minutes for a batch. Instead, connecting may
//   take `connect_timeout_s`, and a transfer is abandoned (timeout) when fewer than
//   `low_speed_bytes` per second moved during `low_speed_time_s` seconds.
// - Responses are requested with "Accept-Encoding: zstd, gzip" and decoded by libcurl.
// - Proxies come from the usual environment variables (http_proxy, https_proxy, no_proxy), as
//   libcurl reads them; `ca_file` replaces the system CA bundle for https.
// - CURLcode values are mapped to ErrorCode here and nowhere else.
// - curl_global_init must have run before the first transport is made: construct one
//   CurlGlobal at the top of main().

#include <memory>
#include <optional>
#include <string>

#include "caravan/sync/agent/transport.hpp"

namespace caravan::sync::agent {

// RAII around curl_global_init / curl_global_cleanup. One per process, in main().
class CurlGlobal {
  public:
    CurlGlobal();
    ~CurlGlobal();
    CurlGlobal(const CurlGlobal&) = delete;
    CurlGlobal& operator=(const CurlGlobal&) = delete;
};

struct CurlOptions {
    std::string base_url; // "http://host:port" or "https://host"; "/v1/..." targets follow it
    std::optional<std::string> ca_file;
    long connect_timeout_s = 20;
    long low_speed_bytes = 10;
    long low_speed_time_s = 60;
    std::size_t max_response_bytes = 8 << 20; // decoded; a larger body is a protocol error
};

class CurlTransport final : public Transport {
  public:
    [[nodiscard]] static Result<std::unique_ptr<CurlTransport>> create(CurlOptions options);
    ~CurlTransport() override;
    CurlTransport(const CurlTransport&) = delete;
    CurlTransport& operator=(const CurlTransport&) = delete;

    [[nodiscard]] Result<HttpResponse> send(const HttpRequest& request) override;
    [[nodiscard]] TransferTotals totals() const override;

  private:
    struct Impl;
    explicit CurlTransport(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// "http://h:1/" and "http://h:1/v1" → "http://h:1"; invalid_input unless http(s)://host.
[[nodiscard]] Result<std::string> normalize_server_url(std::string_view url);
// True for a plain http:// URL whose host is not this machine (127.x.x.x, localhost, [::1]):
// tokens and records would cross the network unencrypted (docs/protocol.md 2).
[[nodiscard]] bool is_insecure_remote_url(std::string_view normalized_url);

} // namespace caravan::sync::agent
