#pragma once
// The coordinator export endpoints (docs/protocol.md, "Exports"):
//
//   GET  /v1/export/journal     ?region=&from=&to=&format=csv|json|xlsx&lang=kk|ru|en
//   GET  /v1/export/breakdown   ?region=&from=&to=&format=text|csv|json|xlsx&lang=
//   POST /v1/export/indicators  same parameters; the body is the plan (JSON, docs/exports.md)
//
// Only an enrolled coordinator device may call them (a lawyer's token: 403 forbidden). Every
// parameter is checked before the response starts: an unknown or repeated parameter or a bad
// value is 400 malformed naming it, an unknown region 404 not_found. CSV, JSON and text stream
// from one read snapshot to the socket in chunks (never the whole export in memory); XLSX is
// built in a temporary file that is unlinked at once and then sent with its length. A failure
// after the first byte (a disk or database error) cuts the connection, so the client sees an
// incomplete transfer rather than a short file that looks whole.

#include <functional>
#include <string_view>

#include "caravan/sync/server/api_error.hpp"
#include "caravan/sync/server/store.hpp"
#include "store_pool.hpp"

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace caravan::sync::server {

// What the routes take from the server they are added to.
struct ExportRouteHooks {
    StorePool* pool = nullptr;
    // Answers with the protocol's JSON error body.
    std::function<void(const httplib::Request&, httplib::Response&, const ApiError&)> send_error;
    std::function<void(std::string_view line)> log; // no personal data
};

void add_export_routes(httplib::Server& http, ExportRouteHooks hooks);

} // namespace caravan::sync::server
