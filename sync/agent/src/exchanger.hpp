#pragma once
// One request of the protocol with its retries: the protocol's headers (token, version, app
// version, queue depth), the transport, exponential backoff with jitter, the server's
// Retry-After, and the mapping of an HTTP answer to the agent's errors.
//
// Contract of exchange():
// - Returns the Reply for any status the caller must judge: a 2xx with a JSON object body, or a
//   4xx other than 408 and 429 (its error body decoded).
// - Retries, at most `max_attempts` tries in all: a transport failure that is `offline` or
//   `timeout`, 408, 429, 500, 502, 503, 504, and a 2xx whose body is not a JSON object. The
//   wait is the backoff's, at least the server's Retry-After (capped at an hour); no wait that
//   would end after the session's `until` is started. Any other transport failure is returned
//   at once. After the last try the failure of that try is returned.
// - `shrink` runs after each failed try (a smaller batch or page survives a bad link better);
//   `build` runs before each try, so a retry may send a rebuilt request.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "caravan/sync/agent/backoff.hpp"
#include "caravan/sync/agent/transport.hpp"
#include "caravan/sync/protocol/error_body.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

// A response whose body was read as JSON (every body of this protocol is JSON).
struct Reply {
    int status = 0;
    nlohmann::json body; // discarded() when the body was not JSON
    ErrorBody error;     // of a non-2xx answer with an error body; empty code otherwise
    std::optional<std::int64_t> retry_after_s;
};

// The server's refusal in the agent's vocabulary. The server's messages carry no personal data
// (protocol rule), so they are passed on.
[[nodiscard]] Error error_from_reply(const Reply& reply);

// The body of a 200 answer; the exchange's failure, or error_from_reply for any other status.
[[nodiscard]] Result<nlohmann::json> body_of_ok(Result<Reply> reply);

class Exchanger {
  public:
    Exchanger(Session& session, Transport& transport);

    // A request with the protocol's headers; `body` (JSON text), if any, zstd-compressed when
    // `compress` says so.
    [[nodiscard]] Result<HttpRequest> request(std::string_view method, std::string target,
                                              const std::string* body, bool compress);

    [[nodiscard]] Result<Reply> exchange(const std::function<Result<HttpRequest>()>& build,
                                         const std::function<void()>& shrink, int max_attempts);

    // A GET of `target`, or a POST of `body` to `route` uncompressed, with the session's tries.
    [[nodiscard]] Result<Reply> get(std::string target);
    [[nodiscard]] Result<Reply> post(std::string_view route, const std::string& body,
                                     int max_attempts);

  private:
    // Queue depth headers: own seqs are contiguous, so the depth is a subtraction and the
    // oldest unsynced event is the one right after the acknowledged prefix.
    [[nodiscard]] Result<void> add_queue_headers(Headers& headers);

    Session& m_session;
    Transport& m_transport;
    Backoff m_backoff;
};

} // namespace caravan::sync::agent
