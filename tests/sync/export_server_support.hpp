#pragma once
// Helpers of the server export tests: `caravan-server export|report` on a server's data
// directory, the export endpoints over HTTP with a device's own token, and openpyxl reading an
// XLSX back.

#include <httplib.h>

#include "e2e_support.hpp"

namespace caravan::test::exports {

namespace fs = std::filesystem;
using e2e::describe;
using nlohmann::json;

// `caravan-server ARGS --data DIR`.
inline ProcessResult server_cli(const e2e::Server& server, std::vector<std::string> args) {
    std::vector<std::string> argv = {binary("caravan-server").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data");
    argv.push_back(server.data().string());
    return run_process(server.with_store(argv), {}, {}, std::chrono::seconds(120));
}

inline std::string server_must(const e2e::Server& server, std::vector<std::string> args) {
    ProcessResult r = server_cli(server, args);
    INFO("caravan-server " << args.front() << ": " << describe(r));
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// The bearer token the device stored when it enrolled.
inline std::string token_of(const e2e::Laptop& laptop) {
    auto db = e2e::ok(storage::Database::open(laptop.db(), {.create = false}));
    storage::Settings settings(db);
    auto token = e2e::ok(settings.get(sync::agent::keys::token));
    REQUIRE(token.has_value());
    return *token;
}

inline httplib::Headers bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
}

// GET (or POST with `body` when given) on the server; fails the test when no response came.
inline httplib::Result http(const e2e::Server& server, const std::string& path,
                            const httplib::Headers& headers,
                            const std::optional<std::string>& body = std::nullopt) {
    httplib::Client client("127.0.0.1", server.port());
    client.set_read_timeout(std::chrono::seconds(60));
    httplib::Result res = body ? client.Post(path.c_str(), headers, *body, "application/json")
                               : client.Get(path.c_str(), headers);
    REQUIRE(res);
    return res;
}

// The protocol's error code of a refusal.
inline std::string error_code(const httplib::Result& res) {
    auto j = json::parse(res->body, nullptr, false);
    REQUIRE(j.is_object());
    return j["error"]["code"].get<std::string>();
}

inline std::string query_escape(const std::string& value) {
    return httplib::detail::encode_query_param(value);
}

inline json read_xlsx(const fs::path& file) {
    auto read =
        run_process({"/usr/bin/python3",
                     (fs::path(CARAVAN_SOURCE_DIR) / "tests/fixtures/export/read_xlsx.py").string(),
                     file.string()});
    INFO(read.err);
    REQUIRE(read.exit_code == 0);
    return json::parse(read.out);
}

inline std::string plan_2024() {
    return read_file(fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json");
}

} // namespace caravan::test::exports
