#pragma once
// The agent's only door to the network: one HTTP exchange at a time.
//
// Contract:
// - send() returns a value when a complete HTTP response arrived, whatever its status (a 503 is
//   a value); it returns an Error when no complete response arrived: `offline` (could not
//   connect, the connection dropped, the body was cut short), `timeout` (nothing moved for too
//   long), `protocol` (the peer sent something that is not HTTP or a body beyond the limit),
//   `invalid_input` (a bad URL). After an Error the request may or may not have reached the
//   server: callers only send requests that are safe to repeat.
// - The response body is content-decoded (zstd/gzip undone); request bodies are sent as given,
//   with whatever Content-Encoding header the caller set.
// - A Transport is used from one thread. Tests swap in a fake that injects failures.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::sync::agent {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
    std::string method; // "GET" or "POST"
    std::string target; // path and query below the server's base URL: "/v1/pull?after=0"
    Headers headers;
    std::string body;
};

struct HttpResponse {
    int status = 0;
    Headers headers; // names lower-cased
    std::string body;

    // The first header of that name (case-insensitive), if any.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

// Bytes that crossed the wire (headers included, bodies as compressed), failed exchanges too.
struct TransferTotals {
    std::int64_t bytes_sent = 0;
    std::int64_t bytes_received = 0;
};

class Transport {
  public:
    virtual ~Transport() = default;
    [[nodiscard]] virtual Result<HttpResponse> send(const HttpRequest& request) = 0;
    // Running totals since this transport was made.
    [[nodiscard]] virtual TransferTotals totals() const = 0;
};

} // namespace caravan::sync::agent
