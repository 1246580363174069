#include "export_routes.hpp"

#include <httplib.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <memory>
#include <random>
#include <set>

#include "caravan/client/domain.hpp"
#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/protocol/routes.hpp"
#include "request_parts.hpp"

namespace caravan::sync::server {

namespace {

namespace ex = client::exports;
namespace fs = std::filesystem;

// A plan is a few hundred bytes; anything this large is not one.
constexpr std::size_t k_max_plan_bytes = 64 * 1024;
// Chunks of the streamed body, and of the XLSX file as it is sent.
constexpr std::size_t k_chunk_bytes = 64 * 1024;

std::string_view content_type(ex::Format format) {
    return ex::media_type(format);
}

std::string_view extension(ex::Format format) {
    return format == ex::Format::text ? "txt" : ex::to_string(format);
}

// An expected failure of the export library as the protocol states it. invalid_input and
// not_found carry messages written for the user (a parameter's name, the known regions), never
// a record's content; anything else is our own failure.
ApiError api_error_of(const Error& error) {
    if (error.code == ErrorCode::invalid_input) {
        return ApiError{std::string(codes::malformed), error.message, nlohmann::json::object(),
                        std::string()};
    }
    if (error.code == ErrorCode::not_found) {
        return ApiError{std::string(codes::not_found), error.message, nlohmann::json::object(),
                        std::string()};
    }
    return api_error_from(error);
}

template <class T> ApiResult<T> checked(Result<T> result) {
    if (!result) {
        return tl::unexpected(api_error_of(result.error()));
    }
    return std::move(*result);
}

// The request's parameters, each known to the route and given at most once.
struct ExportParams {
    ex::Scope scope;
    ex::Format format = ex::Format::csv;
    client::Lang lang = client::Lang::en;
};

// The query string's parameters alone. cpp-httplib also parses a form-encoded body into
// Request::params, and curl sends any `-d` body as a form unless told otherwise: a plan posted
// without `Content-Type: application/json` must still be a plan, not a list of "parameters"
// (which the answer would then name).
QueryParams query_params(const httplib::Request& req) {
    return split_target(req.target).params;
}

ApiResult<ExportParams> parse_params(const QueryParams& params, ex::Format fallback) {
    static const std::set<std::string, std::less<>> k_known = {"region", "from", "to", "format",
                                                               "lang"};
    for (const auto& [name, value] : params) {
        (void)value;
        if (!k_known.count(name)) {
            bool plain = name.size() <= 40 && std::all_of(name.begin(), name.end(), [](char c) {
                             return c >= 0x21 && c <= 0x7e;
                         });
            return refuse(codes::malformed,
                          plain ? "unknown parameter \"" + name +
                                      "\" (known: region, from, to, format, lang)"
                                : "unknown parameter (known: region, from, to, format, lang)");
        }
        if (params.count(name) > 1) {
            return refuse(codes::malformed, "parameter \"" + name + "\" is given more than once");
        }
    }
    ExportParams p;
    p.format = fallback;
    auto param = [&](const char* name) -> std::optional<std::string> {
        auto it = params.find(name);
        if (it == params.end()) {
            return std::nullopt;
        }
        return it->second;
    };
    p.scope = ex::Scope{param("region"), param("from"), param("to")};
    // A refusal names the parameter and what it takes, never the value given: whatever a
    // client typed stays out of the answer (and out of any log that keeps answers).
    for (auto [bound, name] : {std::pair{&p.scope.from, "from"}, std::pair{&p.scope.to, "to"}}) {
        if (*bound && !client::validate_date(name, **bound)) {
            return refuse(codes::malformed, std::string(name) +
                                                ": not a date of the form YYYY-MM-DD between "
                                                "2000-01-01 and 2100-12-31");
        }
    }
    if (p.scope.from && p.scope.to && *p.scope.from > *p.scope.to) {
        return refuse(codes::malformed, "from/to: the start date is after the end date");
    }
    if (auto format = param("format")) {
        auto parsed = checked(ex::parse_format(*format));
        if (!parsed) {
            return tl::unexpected(parsed.error());
        }
        p.format = *parsed;
    }
    if (auto lang = param("lang")) {
        auto parsed = client::parse_lang(*lang);
        if (!parsed) {
            return refuse(codes::malformed, "lang: not one of kk, ru, en");
        }
        p.lang = *parsed;
    }
    return p;
}

// An output stream over the response: rows go out in chunks of k_chunk_bytes. A write the
// client no longer takes fails the stream, so the writer stops.
class SinkBuffer : public std::streambuf {
  public:
    explicit SinkBuffer(httplib::DataSink& sink) : m_sink(sink) {
        setp(m_buffer.data(), m_buffer.data() + m_buffer.size());
    }
    [[nodiscard]] bool failed() const { return m_failed; }

  protected:
    int_type overflow(int_type ch) override {
        if (!flush_buffer()) {
            return traits_type::eof();
        }
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return flush_buffer() ? 0 : -1; }

  private:
    bool flush_buffer() {
        const auto n = static_cast<std::size_t>(pptr() - pbase());
        if (m_failed || (n > 0 && !m_sink.write(pbase(), n))) {
            m_failed = true;
            return false;
        }
        setp(m_buffer.data(), m_buffer.data() + m_buffer.size());
        return true;
    }

    httplib::DataSink& m_sink;
    std::array<char, k_chunk_bytes> m_buffer{};
    bool m_failed = false;
};

// cpp-httplib compresses a streamed text body itself, with brotli whenever Accept-Encoding names
// "br", at brotli's highest quality: a 6.7 MB journal then took 24 s and 90 MB of server memory
// (gzip: 0.8 s and no more memory than identity). So the library is left gzip alone to choose:
// the header is rewritten to "gzip" when the client accepts gzip (as the sync endpoints judge
// it, q=0 refusing), and removed otherwise. The Request is the library's own object, not a
// const one; the handler only sees it through a const reference.
void offer_gzip_only(const httplib::Request& req) {
    auto& headers = const_cast<httplib::Request&>(req).headers;
    std::string gzip_tokens;
    auto [first, last] = headers.equal_range("Accept-Encoding");
    for (auto it = first; it != last; ++it) {
        std::string_view value = it->second;
        while (!value.empty()) {
            std::size_t comma = value.find(',');
            std::string_view token = value.substr(0, comma);
            std::size_t begin = token.find_first_not_of(' ');
            token = begin == std::string_view::npos ? std::string_view() : token.substr(begin);
            if (token.substr(0, token.find_first_of("; ")) == "gzip") {
                gzip_tokens += (gzip_tokens.empty() ? "" : ", ") + std::string(token);
            }
            value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
        }
    }
    headers.erase(first, last);
    if (choose_encoding(gzip_tokens) == Encoding::gzip) {
        headers.emplace("Accept-Encoding", "gzip");
    }
}

std::string random_hex() {
    std::random_device device;
    std::uniform_int_distribution<int> digit(0, 15);
    std::string s;
    for (int i = 0; i < 16; ++i) {
        s += "0123456789abcdef"[digit(device)];
    }
    return s;
}

class ExportRoutes {
  public:
    explicit ExportRoutes(ExportRouteHooks hooks) : m_hooks(std::move(hooks)) {}

    void journal(const httplib::Request& req, httplib::Response& res) {
        answer(req, res, [&](std::shared_ptr<StorePool::Lease> store) -> ApiResult<void> {
            auto p = parse_params(query_params(req), ex::Format::csv);
            if (!p) {
                return tl::unexpected(p.error());
            }
            if (p->format == ex::Format::text) {
                return refuse(codes::malformed,
                              "format: the journal is exported as csv, json or xlsx");
            }
            ex::JournalRequest request;
            auto scope = checked(ex::resolve_scope((*store)->database(), p->scope));
            if (!scope) {
                return tl::unexpected(scope.error());
            }
            request.scope = *scope;
            request.lang = p->lang;
            return send(
                req, res, "journal", p->format, store,
                [request, format = p->format](storage::Database& db,
                                              std::ostream& out) -> Result<void> {
                    auto written = ex::write_journal(db, request, format, out);
                    if (!written) {
                        return tl::unexpected(written.error());
                    }
                    return {};
                },
                [request, format = p->format](storage::Database& db,
                                              const fs::path& file) -> Result<void> {
                    auto written = ex::export_journal(db, request, format, file);
                    if (!written) {
                        return tl::unexpected(written.error());
                    }
                    return {};
                });
        });
    }

    void breakdown(const httplib::Request& req, httplib::Response& res) {
        answer(req, res, [&](std::shared_ptr<StorePool::Lease> store) -> ApiResult<void> {
            auto p = parse_params(query_params(req), ex::Format::json);
            if (!p) {
                return tl::unexpected(p.error());
            }
            return send_report(req, res, "breakdown", *p, store,
                               ex::compute_breakdown((*store)->database(), p->scope),
                               ex::write_breakdown, ex::export_breakdown);
        });
    }

    void indicators(const httplib::Request& req, httplib::Response& res) {
        answer(req, res, [&](std::shared_ptr<StorePool::Lease> store) -> ApiResult<void> {
            auto p = parse_params(query_params(req), ex::Format::json);
            if (!p) {
                return tl::unexpected(p.error());
            }
            if (req.body.size() > k_max_plan_bytes) {
                return refuse(codes::too_large, "plan: the body may not exceed " +
                                                    std::to_string(k_max_plan_bytes) + " bytes");
            }
            if (req.body.empty()) {
                return refuse(codes::malformed,
                              "plan: send the plan file (JSON, docs/exports.md) as the body");
            }
            auto plan = checked(ex::parse_plan(req.body, "(request body)"));
            if (!plan) {
                return tl::unexpected(plan.error());
            }
            return send_report(req, res, "indicators", *p, store,
                               ex::compute_indicators((*store)->database(), *plan, p->scope),
                               ex::write_indicators, ex::export_indicators);
        });
    }

    void indicators_without_plan(const httplib::Request& req, httplib::Response& res) {
        answer(req, res, [](std::shared_ptr<StorePool::Lease>) -> ApiResult<void> {
            return refuse(codes::malformed, "plan: POST the plan file (JSON, docs/exports.md) "
                                            "as the body of /v1/export/indicators");
        });
    }

  private:
    using Body = std::function<ApiResult<void>(std::shared_ptr<StorePool::Lease>)>;
    using Writer = std::function<Result<void>(storage::Database&, std::ostream&)>;
    using Builder = std::function<Result<void>(storage::Database&, const fs::path&)>;

    // Authenticates a coordinator, then runs `body`, which sets up the response; a refusal (or
    // an exception: a bug) becomes the protocol's JSON error.
    void answer(const httplib::Request& req, httplib::Response& res, const Body& body) {
        ApiResult<void> result = [&]() -> ApiResult<void> {
            try {
                auto store = std::make_shared<StorePool::Lease>(m_hooks.pool->acquire());
                if (auto ok = check_protocol(req); !ok) {
                    return tl::unexpected(ok.error());
                }
                auto device = authenticate(req, (*store)->registry());
                if (!device) {
                    return tl::unexpected(device.error());
                }
                if (device->role != Role::coordinator) {
                    return refuse(codes::forbidden, "exports are for coordinator devices only");
                }
                // The PostgreSQL store's projections are a cache: up to the feed's head first.
                if (auto ok = (*store)->refresh(); !ok) {
                    return tl::unexpected(api_error_from(ok.error()));
                }
                return body(std::move(store));
            } catch (const std::exception& e) {
                ApiError error = api_error_from(Error{ErrorCode::internal, "exception"});
                error.log_detail = std::string("exception: ") + e.what();
                return tl::unexpected(std::move(error));
            }
        }();
        if (!result) {
            m_hooks.send_error(req, res, result.error());
        }
    }

    // A computed report (a small structure), rendered as the response.
    template <class Report>
    ApiResult<void>
    send_report(const httplib::Request& req, httplib::Response& res, std::string_view what,
                const ExportParams& p, std::shared_ptr<StorePool::Lease> store,
                Result<Report> computed,
                Result<void> (*write)(const Report&, ex::Format, client::Lang, std::ostream&),
                Result<void> (*build)(const Report&, ex::Format, client::Lang, const fs::path&)) {
        if (!computed) {
            return tl::unexpected(api_error_of(computed.error()));
        }
        auto report = std::make_shared<Report>(std::move(*computed));
        return send(
            req, res, what, p.format, std::move(store),
            [report, write, format = p.format, lang = p.lang](storage::Database&,
                                                              std::ostream& out) {
                return write(*report, format, lang, out);
            },
            [report, build, format = p.format, lang = p.lang](storage::Database&,
                                                              const fs::path& file) {
                return build(*report, format, lang, file);
            });
    }

    // The response: XLSX built into a temporary file first (so a failure is still a proper
    // error), everything else streamed from `write` once the headers are out.
    ApiResult<void> send(const httplib::Request& req, httplib::Response& res, std::string_view what,
                         ex::Format format, std::shared_ptr<StorePool::Lease> store, Writer write,
                         const Builder& build) {
        const std::string type(content_type(format));
        // Set only once nothing can fail any more: an error answer carries none of them.
        auto success_headers = [&] {
            res.status = 200;
            res.set_header("Cache-Control", "no-store");
            res.set_header("X-Content-Type-Options", "nosniff");
            res.set_header("Content-Disposition", "attachment; filename=\"caravan-" +
                                                      std::string(what) + "." +
                                                      std::string(extension(format)) + "\"");
        };
        if (format == ex::Format::xlsx) {
            std::error_code tmp_error;
            const fs::path tmp = fs::temp_directory_path(tmp_error);
            if (tmp_error) {
                return tl::unexpected(api_error_from(Error{
                    ErrorCode::io, "no temporary directory ($TMPDIR): " + tmp_error.message()}));
            }
            fs::path file =
                tmp / ("caravan-export-" + random_hex() + "." + std::string(extension(format)));
            // The request was checked already: what fails now (the temporary directory, the
            // disk) is the server's own failure, logged and answered 500/503.
            if (auto built = build((**store).database(), file); !built) {
                return tl::unexpected(api_error_from(built.error()));
            }
            auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
            std::error_code ec;
            const auto size = fs::file_size(file, ec);
            // Unlinked at once: the open stream keeps the data, nothing stays on disk.
            fs::remove(file);
            if (!*in || ec) {
                return tl::unexpected(
                    api_error_from(Error{ErrorCode::io, "cannot read the built export back"}));
            }
            success_headers();
            res.set_content_provider(
                static_cast<std::size_t>(size), type,
                [in](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
                    std::array<char, k_chunk_bytes> chunk{};
                    in->seekg(static_cast<std::streamoff>(offset));
                    in->read(chunk.data(),
                             static_cast<std::streamsize>(std::min(length, chunk.size())));
                    const auto n = static_cast<std::size_t>(in->gcount());
                    return n > 0 && sink.write(chunk.data(), n);
                });
            return {};
        }
        success_headers();
        res.set_header("Vary", "Accept-Encoding"); // cpp-httplib compresses these
        offer_gzip_only(req);
        auto log = m_hooks.log;
        res.set_chunked_content_provider(type, [store, write = std::move(write), log,
                                                what = std::string(what)](std::size_t,
                                                                          httplib::DataSink& sink) {
            SinkBuffer buffer(sink);
            std::ostream out(&buffer);
            Result<void> ok;
            try {
                ok = write((**store).database(), out);
            } catch (const std::exception& e) {
                ok = fail(ErrorCode::internal, std::string("exception: ") + e.what());
            }
            if (ok) {
                out.flush();
            }
            if (!ok || !out || buffer.failed()) {
                // Headers are gone: cut the connection so the client sees a broken transfer.
                if (!ok && log) {
                    log("error route=/v1/export/" + what +
                        " code=export_failed detail=" + std::string(to_string(ok.error().code)));
                }
                return false;
            }
            sink.done();
            return true;
        });
        return {};
    }

    ExportRouteHooks m_hooks;
};

} // namespace

void add_export_routes(httplib::Server& http, ExportRouteHooks hooks) {
    auto routes = std::make_shared<ExportRoutes>(std::move(hooks));
    http.Get(std::string(routes::export_journal),
             [routes](const httplib::Request& req, httplib::Response& res) {
                 routes->journal(req, res);
             });
    http.Get(std::string(routes::export_breakdown),
             [routes](const httplib::Request& req, httplib::Response& res) {
                 routes->breakdown(req, res);
             });
    // A GET has no body to carry the plan: say so rather than "no such endpoint".
    http.Get(std::string(routes::export_indicators),
             [routes](const httplib::Request& req, httplib::Response& res) {
                 routes->indicators_without_plan(req, res);
             });
    http.Post(std::string(routes::export_indicators),
              [routes](const httplib::Request& req, httplib::Response& res) {
                  routes->indicators(req, res);
              });
}

} // namespace caravan::sync::server
