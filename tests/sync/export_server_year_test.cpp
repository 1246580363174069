// The report-shaped year (tests/programs/gen_year.cpp: 4 regions, 72 villages, 5 lawyers on 5
// devices, 1,360 participants, ...) recorded on five devices and synced through a real server,
// then a coordinator device syncs: the coordinator's exports, the server CLI's and the HTTP
// endpoints' are the same bytes. (tests/client/export_year_test.cpp checks the figures
// themselves and that the merge order does not matter; this checks the way through sync.)

#include "export_server_support.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;
using namespace caravan::test::exports;

namespace {

// The regions each generated device records in (gen_year: lawyers 1-4 at home, the fifth,
// based in Astana, in the last villages of Абай and Ақмола).
const std::vector<std::vector<std::string>> k_device_regions = {
    {"Ақтөбе обл."},
    {"Абай обл."},
    {"Жамбыл обл."},
    {"Ақмола обл."},
    {"Абай обл.", "Ақмола обл.", "Астана қ."}};

} // namespace

TEST_CASE("export server year: the coordinator device, the server CLI and HTTP export the same "
          "bytes",
          "[export][server][year]") {
    TempDir dir;
    auto gen = run_process(
        {binary("gen_year").string(), "--out", (dir / "year").string(), "--seed", "2024"}, {}, {},
        std::chrono::seconds(300));
    INFO(gen.err);
    REQUIRE(gen.exit_code == 0);
    json expected = json::parse(gen.out);
    REQUIRE(expected["devices"].size() == k_device_regions.size());

    Server server(dir / "server");
    for (std::size_t d = 0; d < k_device_regions.size(); ++d) {
        Laptop device(expected["devices"][d].get<std::string>());
        device.must({"enroll", "--server", server.url(), "--code",
                     server.code("Lawyer " + std::to_string(d + 1), k_device_regions[d])});
        device.must_sync();
    }
    json check = json::parse(server_must(server, {"check", "--json"}));
    CHECK(check["ok"] == true);
    CHECK(check["rejected"] == 0); // every event was in its device's regions

    Laptop coordinator(dir / "coordinator.db");
    coordinator.setup(server, "Coordinator", "coordinator");
    coordinator.must_sync();
    const auto token = bearer(token_of(coordinator));
    const fs::path plan = fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";

    // Each export three ways: device CLI args, server CLI args, HTTP path (and body).
    struct Export {
        std::string what;
        std::vector<std::string> device, server;
        std::string path;
        std::optional<std::string> body;
    };
    std::vector<Export> exports = {
        {"journal csv kk",
         {"--lang", "kk", "export", "journal", "--all", "--format", "csv"},
         {"export", "journal", "--all", "--format", "csv", "--lang", "kk"},
         "/v1/export/journal?format=csv&lang=kk",
         std::nullopt},
        {"journal json ru",
         {"--lang", "ru", "export", "journal", "--all", "--format", "json"},
         {"export", "journal", "--all", "--format", "json", "--lang", "ru"},
         "/v1/export/journal?format=json&lang=ru",
         std::nullopt},
        {"indicators json",
         {"report", "indicators", "--plan", plan.string(), "--format", "json"},
         {"report", "indicators", "--plan", plan.string(), "--format", "json"},
         "/v1/export/indicators?format=json",
         plan_2024()},
        {"breakdown json ru",
         {"--lang", "ru", "report", "breakdown", "--format", "json", "--from", "2024-01-01", "--to",
          "2024-08-31"},
         {"report", "breakdown", "--format", "json", "--lang", "ru", "--from", "2024-01-01", "--to",
          "2024-08-31"},
         "/v1/export/breakdown?lang=ru&from=2024-01-01&to=2024-08-31",
         std::nullopt},
    };
    for (const auto& [region, participants] : expected["regions"].items()) {
        (void)participants;
        for (const char* format : {"csv", "json"}) {
            exports.push_back({"journal " + std::string(format) + " " + region,
                               {"export", "journal", "--region", region, "--format", format},
                               {"export", "journal", "--region", region, "--format", format},
                               "/v1/export/journal?format=" + std::string(format) +
                                   "&region=" + query_escape(region),
                               std::nullopt});
        }
    }
    std::map<std::string, std::string> bytes;
    for (const Export& e : exports) {
        INFO(e.what);
        std::string device = coordinator.must(e.device);
        CHECK(server_must(server, e.server) == device);
        auto res = http(server, e.path, token, e.body);
        CHECK(res->status == 200);
        CHECK(res->body == device);
        bytes[e.what] = device;
    }

    // What was compared is the year, not an empty export.
    json journal = json::parse(bytes["journal json ru"]);
    CHECK(journal["count"] == expected["consultations"].get<std::int64_t>() + 2);
    json indicators = json::parse(bytes["indicators json"]);
    bool participants_seen = false;
    for (const json& i : indicators["indicators"]) {
        if (i["code"] == "participants") {
            CHECK(i["fact"] == 1360);
            participants_seen = true;
        }
    }
    CHECK(participants_seen);
    std::int64_t regional_rows = 0;
    for (const auto& [region, participants] : expected["regions"].items()) {
        (void)participants;
        regional_rows += json::parse(bytes["journal json " + region])["count"].get<std::int64_t>();
    }
    CHECK(regional_rows == journal["count"].get<std::int64_t>());

    // XLSX holds its creation time, so the workbooks are compared as read back.
    fs::path device_book = dir / "device.xlsx";
    fs::path server_book = dir / "server.xlsx";
    coordinator.must({"--lang", "kk", "export", "journal", "--all", "-o", device_book.string()});
    server_must(server, {"export", "journal", "--all", "--lang", "kk", "-o", server_book.string()});
    auto res = http(server, "/v1/export/journal?format=xlsx&lang=kk", token);
    REQUIRE(res->status == 200);
    fs::path http_book = dir / "http.xlsx";
    std::ofstream(http_book, std::ios::binary) << res->body;
    json device_sheets = read_xlsx(device_book);
    CHECK(device_sheets["sheets"].size() == 4);
    CHECK(read_xlsx(server_book) == device_sheets);
    CHECK(read_xlsx(http_book) == device_sheets);

    // The year's server moved to PostgreSQL (migrate-store, issue 15): `check` passes on the new
    // store, the exports are the same bytes, the coordinator syncs on without a resync.
    if (!server.store().empty() || !PgCluster::shared().available()) {
        WARN("SKIPPED the move to PostgreSQL: " << (server.store().empty()
                                                         ? PgCluster::shared().why_not()
                                                         : "the server already runs on it"));
        return;
    }
    server.kill9();
    const std::string url = PgCluster::shared().database();
    ProcessResult migrated =
        run_process({binary("caravan-server").string(), "migrate-store", "--from",
                     server.data().string(), "--to", url},
                    {}, {}, std::chrono::seconds(300));
    INFO(describe(migrated));
    REQUIRE(migrated.exit_code == 0);
    Server moved(dir / "pg", url);
    json moved_check = json::parse(server_must(moved, {"check", "--json"}));
    CHECK(moved_check["ok"] == true);
    // The year's events and the coordinator's own (its device record), every device.
    CHECK(moved_check["events"] == check["events"].get<std::int64_t>() + 1);
    CHECK(moved_check["devices"] == check["devices"].get<std::int64_t>() + 1);
    for (const Export& e : exports) {
        if (!e.body) {
            INFO(e.what << " from PostgreSQL");
            CHECK(server_must(moved, e.server) == bytes[e.what]);
        }
    }
    coordinator.use_server_url(moved.url());
    coordinator.must_sync();
    json verified = coordinator.must_json({"sync", "--verify"});
    CHECK(verified["verify"]["agree"] == true);
    CHECK(coordinator.must({"--lang", "ru", "export", "journal", "--all", "--format", "json"}) ==
          bytes["journal json ru"]);
}
