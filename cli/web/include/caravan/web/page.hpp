#pragma once
// Forms, answers, rendering and the small helpers both web front ends use (the lawyer's app in
// cli/ui, the coordinator's dashboard in cli/dashboard).
//
// - A request reaches a page as a Form (query and form fields merged, repeated fields in order,
//   a multipart form's files apart); a page answers with an Answer: a rendered page, a redirect
//   (303) or a download streamed from a scratch file.
// - Pages are mustache templates (libmstch) rendered inside a layout; every word on them comes
//   from a kk/ru/en catalog (translate).
// - Static files are the front end's embedded assets; its stylesheet is the shared base
//   stylesheet (cli/web/assets/base.css) followed by its own, sent as one file.

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <mstch/mstch.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/storage/message.hpp"
#include "caravan/storage/result.hpp"

namespace httplib {
struct Request;
struct Response;
} // namespace httplib

namespace caravan::web {

struct Form {
    std::multimap<std::string, std::string> fields;
    // The files of a multipart form, in the order sent.
    struct Upload {
        std::string field, filename, content;
    };
    std::vector<Upload> uploads;
    [[nodiscard]] std::string get(const std::string& name) const;
    [[nodiscard]] bool has(const std::string& name) const;
    [[nodiscard]] std::vector<std::string> all(const std::string& name) const;
};
// Query and form fields (form wins by coming later); a multipart form's parts too (a file's
// bytes as an Upload, a plain part as a field).
[[nodiscard]] Form form_of(const httplib::Request& req);

struct Answer {
    int status = 200;
    std::string body;
    std::string content_type = "text/html; charset=utf-8";
    std::string location; // non-empty: a 303 redirect there
    // Non-empty: a download streamed from this file (removed once sent), named download_name.
    std::filesystem::path file;
    std::string download_name;
    // Set: a download (named download_name) whose body `stream` writes after the headers are
    // out, sent chunked in 64 KiB pieces as it is written (memory does not grow with it). A
    // failure, or a client gone, cuts the transfer: the client sees it broken, never complete.
    std::function<Result<void>(std::ostream&)> stream;
    // Extra headers (Set-Cookie, ...), added as given.
    std::vector<std::pair<std::string, std::string>> headers;
};
[[nodiscard]] Answer redirect(std::string location);
// Writes `answer` to `res`: the redirect, the page, the file streamed in 64 KiB pieces
// (removed when the answer is done, sent or abandoned), or the stream.
void send(httplib::Response& res, const Answer& answer);

// `message` in `lang` with its placeholders filled.
[[nodiscard]] std::string translate(Language lang, const Message& message,
                                    std::vector<MessageArg> args = {});
// `body` rendered inside `layout` (whose {{> content}} is the body), with `partials` besides.
[[nodiscard]] std::string render(std::string_view layout, std::string_view body,
                                 const mstch::map& context,
                                 std::map<std::string, std::string> partials = {});

// A static file: `name` among the front end's assets (`lookup`), never a template, never a
// path; `stylesheet` names the front end's own stylesheet, answered as base.css + it.
// False (nothing written) when there is no such file.
template <typename Lookup>
[[nodiscard]] bool send_static(httplib::Response& res, const std::string& name,
                               std::string_view stylesheet, Lookup&& lookup);
// Writes a static file's bytes (the content type from its name, cached for an hour).
void send_static_bytes(httplib::Response& res, const std::string& name, std::string bytes);
// The shared base stylesheet.
[[nodiscard]] std::string_view base_stylesheet();

// ---- the language --------------------------------------------------------------------------
// The page's language: the caravan_lang cookie (set by /lang), else `fallback`.
[[nodiscard]] client::Lang lang_of(const httplib::Request& req, client::Lang fallback);
// GET /lang?to=L&back=PATH: remembers L in the cookie (a year) and goes back to PATH when it is
// a local path (anything else: "/").
[[nodiscard]] Answer switch_language(const httplib::Request& req);
// The language links every page shows: code, name in its own language, current, back (the
// page's path and query, encoded) — for the layout's {{#langs}}.
[[nodiscard]] mstch::array language_links(client::Lang current, std::string_view target);

// `text` percent-encoded for a URL's query.
[[nodiscard]] std::string url_encode(std::string_view text);
// The field an error names (the catalog word `client.field_NAME` among its arguments, or in an
// error it embeds): a form shows the message next to that field. Empty when none.
[[nodiscard]] std::string field_of(const Error& error);
// A local date and time "YYYY-MM-DD HH:MM" for an ISO 8601 UTC time; the input when unreadable.
[[nodiscard]] std::string local_time(const std::string& iso_utc);

template <typename Lookup>
bool send_static(httplib::Response& res, const std::string& name, std::string_view stylesheet,
                 Lookup&& lookup) {
    if (name.empty() || name.find('/') != std::string::npos || name.ends_with(".mustache")) {
        return false;
    }
    const std::optional<std::string_view> bytes = lookup(name);
    if (!bytes) {
        return false;
    }
    std::string content = name == stylesheet ? std::string(base_stylesheet()) : std::string();
    content += *bytes;
    send_static_bytes(res, name, std::move(content));
    return true;
}

} // namespace caravan::web
