#include "exchanger.hpp"

#include <algorithm>

#include "caravan/client/hlc.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol.hpp"

namespace caravan::sync::agent {

using nlohmann::json;

namespace {

Reply read_reply(HttpResponse&& response) {
    Reply r;
    r.status = response.status;
    auto parsed = parse_json_limited(response.body);
    r.body = parsed ? std::move(*parsed) : json(json::value_t::discarded);
    if (auto error = error_body_from_json(r.body)) {
        r.error = std::move(*error);
        r.retry_after_s = r.error.retry_after;
    }
    if (auto header = response.header("retry-after")) {
        try {
            r.retry_after_s = std::stoll(*header);
        } catch (const std::exception&) {
            // An HTTP-date or garbage: the backoff alone decides.
        }
    }
    return r;
}

} // namespace

Error error_from_reply(const Reply& r) {
    const std::string& code = r.error.code;
    std::string detail = code.empty() ? "HTTP " + std::to_string(r.status)
                                      : code + ", HTTP " + std::to_string(r.status);
    std::string said = r.error.message.empty() ? "" : ": " + r.error.message;
    switch (r.status) {
    case 401:
        return make_error(ErrorCode::auth, msg::credentials_refused, detail, said);
    case 403:
        return make_error(ErrorCode::forbidden, msg::request_refused, detail, said);
    case 426:
        return make_error(ErrorCode::upgrade_required, msg::upgrade_needed, detail, said);
    case 408: // the server's request deadline passed: a slow link, worth another try
        return make_error(ErrorCode::timeout, msg::request_timed_out, detail, said);
    case 400:
    case 404:
    case 405:
    case 409:
    case 413:
        return make_error(ErrorCode::protocol, msg::request_refused, detail, said);
    default:
        if (r.status == 429) {
            return make_error(ErrorCode::server, msg::slow_down, detail, said);
        }
        if (r.status >= 500) {
            return make_error(ErrorCode::server, msg::server_failing, detail, said);
        }
        return make_error(ErrorCode::protocol, msg::unexpected_answer, detail, said);
    }
}

Result<json> body_of_ok(Result<Reply> reply) {
    if (!reply) {
        return tl::unexpected(reply.error());
    }
    if (reply->status != 200) {
        return tl::unexpected(error_from_reply(*reply));
    }
    return std::move(reply->body);
}

Exchanger::Exchanger(Session& session, Transport& transport)
    : m_session(session), m_transport(transport),
      m_backoff(session.tuning.retry_base, session.tuning.retry_cap, session.env.seed) {}

Result<void> Exchanger::add_queue_headers(Headers& headers) {
    Session& s = m_session;
    auto acked = s.engine.push_acked_seq();
    if (!acked) {
        return tl::unexpected(acked.error());
    }
    std::int64_t depth = 0;
    std::string oldest;
    if (!s.device_id.empty()) {
        auto last = s.engine.last_seq(s.device_id);
        if (!last) {
            return tl::unexpected(last.error());
        }
        depth = std::max<std::int64_t>(0, *last - *acked);
        if (depth > 0) {
            auto first = s.engine.find_event(s.device_id, *acked + 1);
            if (!first) {
                return tl::unexpected(first.error());
            }
            if (*first) {
                oldest = client::Hlc{(*first)->hlc}.to_iso();
            }
        }
    }
    headers.emplace_back(std::string(k_header_queue_depth), std::to_string(depth));
    headers.emplace_back(std::string(k_header_oldest_unsynced), oldest);
    return {};
}

Result<HttpRequest> Exchanger::request(std::string_view method, std::string target,
                                       const std::string* body, bool compress_body) {
    HttpRequest req;
    req.method = std::string(method);
    req.target = std::move(target);
    if (!m_session.token.empty()) {
        req.headers.emplace_back("Authorization", "Bearer " + m_session.token);
    }
    req.headers.emplace_back(std::string(k_header_protocol), std::to_string(k_protocol_version));
    req.headers.emplace_back(std::string(k_header_app_version), m_session.env.app_version);
    if (auto ok = add_queue_headers(req.headers); !ok) {
        return tl::unexpected(ok.error());
    }
    req.headers.emplace_back("Accept", "application/json");
    if (body) {
        req.headers.emplace_back("Content-Type", std::string(k_json_content_type));
        if (compress_body) {
            auto packed = compress(*body, Encoding::zstd);
            if (!packed) {
                return tl::unexpected(packed.error());
            }
            req.body = std::move(*packed);
            req.headers.emplace_back("Content-Encoding", std::string(to_string(Encoding::zstd)));
        } else {
            req.body = *body;
        }
    }
    return req;
}

Result<Reply> Exchanger::exchange(const std::function<Result<HttpRequest>()>& build,
                                  const std::function<void()>& shrink, int max_attempts) {
    for (int attempt = 1;; ++attempt) {
        auto req = build();
        if (!req) {
            return tl::unexpected(req.error());
        }
        ++m_session.report.requests;
        auto response = m_transport.send(*req);
        Error failure;
        std::optional<Millis> server_wait;
        if (!response) {
            if (response.error().code != ErrorCode::offline &&
                response.error().code != ErrorCode::timeout) {
                return tl::unexpected(response.error());
            }
            failure = response.error();
        } else {
            Reply reply = read_reply(std::move(*response));
            bool retryable_status = reply.status == 408 || reply.status == 429 ||
                                    reply.status == 500 || reply.status == 502 ||
                                    reply.status == 503 || reply.status == 504;
            if (reply.status >= 200 && reply.status < 300) {
                if (reply.body.is_object()) {
                    m_backoff.reset();
                    return reply;
                }
                failure = make_error(ErrorCode::offline, msg::response_garbled);
            } else if (retryable_status) {
                failure = error_from_reply(reply);
                if (reply.retry_after_s) {
                    server_wait =
                        Millis(std::clamp<std::int64_t>(*reply.retry_after_s, 0, 3600) * 1000);
                }
            } else {
                m_backoff.reset();
                return reply;
            }
        }
        if (shrink) {
            shrink();
        }
        if (attempt >= max_attempts) {
            return tl::unexpected(failure);
        }
        Millis wait = m_backoff.next();
        if (server_wait) {
            wait = std::max(wait, *server_wait);
        }
        if (m_session.until && m_session.now() + wait > *m_session.until) {
            return tl::unexpected(failure);
        }
        m_session.env.sleep(wait);
    }
}

Result<Reply> Exchanger::get(std::string target) {
    return exchange([&] { return request("GET", target, nullptr, false); }, {},
                    m_session.tuning.max_attempts);
}

Result<Reply> Exchanger::post(std::string_view route, const std::string& body, int max_attempts) {
    return exchange([&] { return request("POST", std::string(route), &body, false); }, {},
                    max_attempts);
}

} // namespace caravan::sync::agent
