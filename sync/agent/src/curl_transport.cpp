#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/protocol/routes.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace caravan::sync::agent {

namespace {

struct EasyDeleter {
    void operator()(CURL* curl) const noexcept { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
    void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using EasyHandle = std::unique_ptr<CURL, EasyDeleter>;
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                             text.back() == '\n')) {
        text.remove_suffix(1);
    }
    return text;
}

// The boundary where libcurl's vocabulary becomes ours. Messages never carry the URL's query
// or any body: only what went wrong.
Error map_curl_error(CURLcode rc, const char* detail) {
    std::string what = detail && *detail ? detail : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return make_error(ErrorCode::offline, msg::server_unreachable, what);
    case CURLE_OPERATION_TIMEDOUT:
        return make_error(ErrorCode::timeout, msg::link_stalled, what);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return make_error(ErrorCode::offline, msg::connection_dropped, what);
    case CURLE_BAD_CONTENT_ENCODING:
        // A compressed body cut short by a dropped link decodes as garbage: retryable.
        return make_error(ErrorCode::offline, msg::response_damaged, what);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
        if (what.find("subject name") != std::string::npos ||
            what.find("host name") != std::string::npos) {
            return make_error(ErrorCode::protocol, msg::tls_wrong_host, what);
        }
        return make_error(ErrorCode::protocol, msg::tls_unverified, what);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return make_error(ErrorCode::invalid_input, msg::bad_server_url, what);
    case CURLE_WRITE_ERROR:
        return make_error(ErrorCode::protocol, msg::response_too_large);
    case CURLE_WEIRD_SERVER_REPLY:
        return make_error(ErrorCode::protocol, msg::reply_not_http, what);
    case CURLE_OUT_OF_MEMORY:
        return make_error(ErrorCode::internal, msg::out_of_memory);
    default:
        return make_error(ErrorCode::offline, msg::network_failure, what);
    }
}

} // namespace

CurlGlobal::CurlGlobal() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}
CurlGlobal::~CurlGlobal() {
    curl_global_cleanup();
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
    std::string wanted = lower(name);
    for (const auto& [k, v] : headers) {
        if (k == wanted) {
            return v;
        }
    }
    return std::nullopt;
}

Result<std::string> normalize_server_url(std::string_view url) {
    std::string u(trim(url));
    if (!u.starts_with("http://") && !u.starts_with("https://")) {
        return fail(ErrorCode::invalid_input, msg::url_scheme);
    }
    const std::size_t host_start = u.find("://") + 3;
    while (u.size() > host_start && u.ends_with("/")) {
        u.pop_back();
    }
    if (const auto prefix = routes::version_prefix;
        u.size() > host_start + prefix.size() && u.ends_with(prefix)) {
        u.resize(u.size() - prefix.size());
    }
    // No user info ("http://127.0.0.1@elsewhere"): the host a reader sees must be the host
    // curl connects to, or the plain-http rule could be fooled.
    if (host_start >= u.size() || u[host_start] == '/' ||
        u.find_first_of("?# @\\", host_start) != std::string::npos) {
        return fail(ErrorCode::invalid_input, msg::url_form);
    }
    return u;
}

bool is_insecure_remote_url(std::string_view url) {
    if (!url.starts_with("http://")) {
        return false;
    }
    std::string_view rest = url.substr(7);
    std::string_view host = rest.substr(0, rest.find('/'));
    if (host.starts_with("[")) {
        return !host.starts_with("[::1]");
    }
    host = host.substr(0, host.find(':'));
    // 127.0.0.0/8 as a dotted quad only: "127.example.org" is a name anyone may own.
    bool loopback_v4 = host.starts_with("127.") &&
                       host.find_first_not_of("0123456789.") == std::string_view::npos &&
                       std::count(host.begin(), host.end(), '.') == 3;
    return !(host == "localhost" || loopback_v4);
}

struct CurlTransport::Impl {
    CurlOptions options;
    EasyHandle curl;
    TransferTotals totals;
    // Per-exchange buffers, filled by the callbacks.
    HttpResponse response;
    bool too_large = false;
    char error[CURL_ERROR_SIZE] = {};

    static size_t on_body(char* data, size_t size, size_t count, void* self_ptr) {
        auto* self = static_cast<Impl*>(self_ptr);
        size_t n = size * count;
        if (self->response.body.size() + n > self->options.max_response_bytes) {
            self->too_large = true;
            return 0; // aborts the transfer with CURLE_WRITE_ERROR
        }
        self->response.body.append(data, n);
        return n;
    }

    static size_t on_header(char* data, size_t size, size_t count, void* self_ptr) {
        auto* self = static_cast<Impl*>(self_ptr);
        size_t n = size * count;
        std::string_view line(data, n);
        if (line.starts_with("HTTP/")) {
            // A new status line (after 100 Continue or a proxy's CONNECT): start over.
            self->response.headers.clear();
            return n;
        }
        auto colon = line.find(':');
        if (colon != std::string_view::npos && self->response.headers.size() < 200) {
            self->response.headers.emplace_back(lower(trim(line.substr(0, colon))),
                                                std::string(trim(line.substr(colon + 1))));
        }
        return n;
    }
};

CurlTransport::CurlTransport(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
CurlTransport::~CurlTransport() = default;

Result<std::unique_ptr<CurlTransport>> CurlTransport::create(CurlOptions options) {
    auto base = normalize_server_url(options.base_url);
    if (!base) {
        return tl::unexpected(base.error());
    }
    options.base_url = *base;
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->curl.reset(curl_easy_init());
    if (!impl->curl) {
        // i18n-exempt: libcurl could not allocate a handle; nothing a user typed
        return fail(ErrorCode::internal, "curl_easy_init failed");
    }
    return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(impl)));
}

Result<HttpResponse> CurlTransport::send(const HttpRequest& request) {
    Impl& s = *m_impl;
    CURL* c = s.curl.get();
    // Options are set afresh each time (the previous request's method and body must not leak),
    // but the handle, and so its connection cache, stays.
    curl_easy_reset(c);
    s.response = HttpResponse{};
    s.too_large = false;
    s.error[0] = '\0';

    std::string url = s.options.base_url + request.target;
    Slist headers;
    auto append = [&headers](const std::string& line) {
        curl_slist* grown = curl_slist_append(headers.get(), line.c_str());
        if (!grown) {
            return false;
        }
        (void)headers.release(); // `grown` is the same list, now one item longer
        headers.reset(grown);
        return true;
    };
    for (const auto& [name, value] : request.headers) {
        // "Name;" is curl's spelling of "send this header with an empty value".
        if (!append(value.empty() ? name + ";" : name + ": " + value)) {
            return fail(ErrorCode::internal, msg::out_of_memory);
        }
    }
    // No "Expect: 100-continue" round trip before large bodies: on a 2G link it costs a second.
    if (!append("Expect:")) {
        return fail(ErrorCode::internal, msg::out_of_memory);
    }

    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.error);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "zstd, gzip");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s.options.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, s.options.low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s.options.low_speed_time_s);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    // libcurl's defaults, stated so that no later edit can weaken them unnoticed: the peer's
    // certificate chain and its host name are always verified, and TLS 1.2 is the minimum.
    // There is no option anywhere to turn verification off.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
    if (s.options.ca_file) {
        curl_easy_setopt(c, CURLOPT_CAINFO, s.options.ca_file->c_str());
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    if (request.method == "POST") {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
    } else if (request.method == "GET") {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else {
        // i18n-exempt: a bug in the caller (the agent only sends GET and POST)
        return fail(ErrorCode::internal, "unsupported HTTP method");
    }

    CURLcode rc = curl_easy_perform(c);

    curl_off_t up = 0, down = 0;
    long request_size = 0, header_size = 0;
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &request_size);
    curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &header_size);
    // libcurl sends a small POST body (under 64 KiB) in the same buffer as the head, and then
    // counts it in both REQUEST_SIZE and SIZE_UPLOAD; a larger body goes after the head and is
    // counted in SIZE_UPLOAD only. A request size at least the upload size means the former.
    const bool body_in_head = up > 0 && static_cast<curl_off_t>(request_size) >= up;
    s.totals.bytes_sent += static_cast<std::int64_t>(request_size) +
                           (body_in_head ? 0 : static_cast<std::int64_t>(up));
    s.totals.bytes_received += static_cast<std::int64_t>(down) + header_size;

    if (rc != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR && s.too_large) {
            return fail(ErrorCode::protocol, msg::response_too_large);
        }
        return tl::unexpected(map_curl_error(rc, s.error));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    s.response.status = static_cast<int>(status);
    return std::move(s.response);
}

TransferTotals CurlTransport::totals() const {
    return m_impl->totals;
}

} // namespace caravan::sync::agent
