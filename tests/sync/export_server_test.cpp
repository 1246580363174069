// Coordinator exports from the server: `caravan-server export journal` and `report ...` on a
// server data directory filled through real sync (the server running meanwhile), and the
// /v1/export/ endpoints, for a coordinator's token only.

#include "export_server_support.hpp"

#include <set>

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;
using namespace caravan::test::exports;

namespace {

// A lawyer who recorded one visit with attendance and three consultations, one edited and one
// deleted, and a coordinator; both synced.
struct Field {
    TempDir dir;
    Server server{dir / "server"};
    Laptop lawyer{dir / "lawyer.db"};
    Laptop coordinator{dir / "coordinator.db"};

    Field() {
        lawyer.setup(server, "Lawyer A");
        lawyer.start_field_day();
        lawyer.must({"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                     "unemployed", "--count", "6"});
        std::vector<std::string> ids;
        for (const char* question : {"жер телімі, «құжат»", "мұрагерлік", "өшірілетін"}) {
            ids.push_back(lawyer
                              .must_json({"consult", "add", "--gender", "female", "--age", "33-45",
                                          "--category", "unemployed", "--topic", "land",
                                          "--outcome", "advice", "--question", question, "--advice",
                                          "кеңес \"өтініш\"", "--lang", "kk"})["id"]
                              .get<std::string>());
        }
        lawyer.must({"consult", "edit", ids[1], "--outcome", "case"});
        lawyer.must({"consult", "rm", ids[2]});
        lawyer.must_sync();
        coordinator.setup(server, "Coordinator", "coordinator");
        coordinator.must_sync();
    }

    std::string device(std::vector<std::string> args) const { return coordinator.must(args); }
};

} // namespace

TEST_CASE("export server: the server CLI writes what the coordinator device writes",
          "[export][server]") {
    Field f;
    for (const char* lang : {"kk", "ru", "en"}) {
        INFO("lang " << lang);
        for (const char* format : {"csv", "json"}) {
            INFO("format " << format);
            std::string server = server_must(
                f.server, {"export", "journal", "--all", "--format", format, "--lang", lang});
            CHECK(server ==
                  f.device({"--lang", lang, "export", "journal", "--all", "--format", format}));
            // One region, named in another case and spacing: the same rows (the JSON names
            // the region in its header).
            CHECK(server_must(f.server, {"export", "journal", "--region", "жамбыл  обл.",
                                         "--format", format, "--lang", lang}) ==
                  f.device({"--lang", lang, "export", "journal", "--region", k_region, "--format",
                            format}));
        }
    }
    json journal =
        json::parse(server_must(f.server, {"export", "journal", "--all", "--format", "json"}));
    CHECK(journal["count"] == 2); // the deleted consultation is absent
    CHECK(server_must(f.server, {"export", "journal", "--region", "жамбыл  обл."}) ==
          server_must(f.server, {"export", "journal", "--all"})); // CSV: the same rows
    CHECK(journal["rows"][1]["outcome"] == "case");

    CHECK(server_must(f.server, {"report", "breakdown", "--format", "json", "--lang", "ru"}) ==
          f.device({"--lang", "ru", "report", "breakdown", "--format", "json"}));
    fs::path plan = fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";
    CHECK(
        server_must(f.server, {"report", "indicators", "--plan", plan.string(), "--lang", "kk"}) ==
        f.device({"--lang", "kk", "report", "indicators", "--plan", plan.string()}));

    // Files: XLSX read back; the summary as JSON.
    fs::path book = f.dir / "out" / "journal.xlsx";
    fs::create_directories(book.parent_path());
    json summary = json::parse(server_must(
        f.server, {"export", "journal", "--all", "-o", book.string(), "--lang", "kk", "--json"}));
    CHECK(summary["rows"] == 2);
    CHECK(summary["format"] == "xlsx");
    json sheets = read_xlsx(book)["sheets"];
    REQUIRE(sheets.size() == 1);
    CHECK(sheets[0]["name"] == k_region);
    CHECK(sheets[0]["max_row"] == 3);
    CHECK(sheets[0]["rows"][1][2]["is_date"] == true);

    fs::path csv = f.dir / "out" / "indicators.csv";
    ProcessResult r =
        server_cli(f.server, {"report", "indicators", "--plan", plan.string(), "-o", csv.string()});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out == "wrote indicators to " + csv.string() + "\n");
    CHECK(r.err.rfind("caravan-server: ", 0) == 0); // the note on warnings left out of the CSV
    CHECK(read_file(csv).rfind("\xEF\xBB\xBF", 0) == 0);
}

TEST_CASE("export server: bad input is refused with exit 2 and leaves no output file",
          "[export][server]") {
    Field f;
    fs::path out = f.dir / "out";
    fs::create_directories(out);
    fs::path file = out / "journal.csv";
    fs::path malformed = f.dir / "malformed-plan.json";
    fs::path partial = f.dir / "partial-plan.json";
    {
        std::ofstream(malformed) << "{\"targets\": {\"villages\": 50,";
        std::ofstream(partial) << "{\"targets\": {\"villages\": 50}}";
    }
    struct Case {
        std::string what;
        std::vector<std::string> args;
        std::string says;
    };
    const std::vector<Case> cases = {
        {"unknown region",
         {"export", "journal", "--region", "Маңғыстау обл.", "-o", file.string()},
         "region"},
        {"inverted dates",
         {"export", "journal", "--all", "--from", "2024-06-01", "--to", "2024-05-01", "-o",
          file.string()},
         "from/to"},
        {"not a date", {"export", "journal", "--all", "--from", "2024-02-30"}, "from"},
        {"neither --region nor --all", {"export", "journal", "-o", file.string()}, "--all"},
        {"text journal", {"export", "journal", "--all", "--format", "text"}, "format"},
        {"unwritable output path",
         {"export", "journal", "--all", "-o", (out / "missing" / "journal.csv").string()},
         "missing"},
        {"malformed plan",
         {"report", "indicators", "--plan", malformed.string(), "-o", file.string()},
         "malformed-plan.json"},
        {"partial plan",
         {"report", "indicators", "--plan", partial.string(), "-o", file.string()},
         "participants"},
        {"missing plan",
         {"report", "indicators", "--plan", (f.dir / "none.json").string(), "-o", file.string()},
         "none.json"},
        {"breakdown of an unknown region",
         {"report", "breakdown", "--region", "Nowhere", "-o", file.string()},
         "region"},
        {"unknown language", {"export", "journal", "--all", "--lang", "de"}, "lang"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        ProcessResult r = server_cli(f.server, c.args);
        INFO(describe(r));
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(c.says) != std::string::npos);
        CHECK(r.out.empty());
        CHECK(!fs::exists(file));
        CHECK(!fs::exists(out / "missing"));
        CHECK(std::distance(fs::directory_iterator(out), fs::directory_iterator()) == 0);
    }
    // A data directory with no server database.
    ProcessResult r = run_process({binary("caravan-server").string(), "export", "journal", "--all",
                                   "--data", (f.dir / "nothing").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("no server database") != std::string::npos);
    CHECK(!fs::exists(f.dir / "nothing"));
}

TEST_CASE("export server: the HTTP exports are the server CLI's bytes, for a coordinator only",
          "[export][server][http]") {
    Field f;
    const auto coordinator = bearer(token_of(f.coordinator));

    SECTION("journal, breakdown and indicators in every format") {
        for (const char* lang : {"kk", "ru", "en"}) {
            for (const char* format : {"csv", "json"}) {
                INFO(lang << " " << format);
                auto res = http(
                    f.server, std::string("/v1/export/journal?format=") + format + "&lang=" + lang,
                    coordinator);
                CHECK(res->status == 200);
                CHECK(res->body == server_must(f.server, {"export", "journal", "--all", "--format",
                                                          format, "--lang", lang}));
                CHECK(res->get_header_value("Content-Type") == (std::string(format) == "csv"
                                                                    ? "text/csv; charset=utf-8"
                                                                    : "application/json"));
                CHECK(res->get_header_value("Content-Disposition") ==
                      std::string("attachment; filename=\"caravan-journal.") + format + "\"");
                CHECK(res->get_header_value("Cache-Control") == "no-store");
                CHECK(res->get_header_value("Vary") == "Accept-Encoding");
            }
        }
        auto regional = http(f.server,
                             "/v1/export/journal?region=" + query_escape(k_region) +
                                 "&from=2024-05-01&to=2024-05-31&format=json&lang=ru",
                             coordinator);
        CHECK(regional->status == 200);
        CHECK(regional->body == server_must(f.server, {"export", "journal", "--region", k_region,
                                                       "--from", "2024-05-01", "--to", "2024-05-31",
                                                       "--format", "json", "--lang", "ru"}));

        auto book = http(f.server, "/v1/export/journal?format=xlsx&lang=kk", coordinator);
        CHECK(book->status == 200);
        CHECK(book->get_header_value("Content-Type") ==
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
        CHECK(book->get_header_value("Content-Length") == std::to_string(book->body.size()));
        fs::path file = f.dir / "journal.xlsx";
        std::ofstream(file, std::ios::binary) << book->body;
        json sheets = read_xlsx(file)["sheets"];
        REQUIRE(sheets.size() == 1);
        CHECK(sheets[0]["max_row"] == 3);

        auto breakdown = http(f.server, "/v1/export/breakdown?lang=kk", coordinator);
        CHECK(breakdown->status == 200);
        CHECK(breakdown->body ==
              server_must(f.server, {"report", "breakdown", "--format", "json", "--lang", "kk"}));
        auto text = http(f.server, "/v1/export/breakdown?format=text", coordinator);
        CHECK(text->get_header_value("Content-Type") == "text/plain; charset=utf-8");
        CHECK(text->body == server_must(f.server, {"report", "breakdown"}));

        fs::path plan = fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";
        auto indicators =
            http(f.server, "/v1/export/indicators?format=csv&lang=ru", coordinator, plan_2024());
        CHECK(indicators->status == 200);
        CHECK(indicators->body ==
              server_must(f.server, {"report", "indicators", "--plan", plan.string(), "--format",
                                     "csv", "--lang", "ru"}));

        // Regression: posted as curl's `-d` does (a form, no JSON content type), the plan was
        // read as "parameters": 400 "unknown parameter" naming the body's text.
        httplib::Client client("127.0.0.1", f.server.port());
        auto form = client.Post("/v1/export/indicators?format=csv&lang=ru", coordinator,
                                plan_2024(), "application/x-www-form-urlencoded");
        REQUIRE(form);
        CHECK(form->status == 200);
        CHECK(form->body == indicators->body);
        // A bad plan is named once as the request body, not "plan plan".
        auto bad = client.Post("/v1/export/indicators", coordinator, "{\"version\": 99}",
                               "application/x-www-form-urlencoded");
        REQUIRE(bad);
        CHECK(bad->status == 400);
        CHECK(bad->body.find("plan (request body): ") != std::string::npos);
        CHECK(bad->body.find("plan plan") == std::string::npos);
    }

    SECTION("compressed with gzip when the client accepts it, never brotli") {
        const std::string json_journal =
            server_must(f.server, {"export", "journal", "--all", "--format", "json"});
        for (auto [accept, encoding] : {std::pair<std::string, std::string>{"gzip", "gzip"},
                                        {"deflate, gzip, br, zstd", "gzip"},
                                        {"br", ""},
                                        {"br, gzip;q=0", ""}}) {
            INFO("Accept-Encoding: " << accept);
            auto headers = coordinator;
            headers.emplace("Accept-Encoding", accept);
            auto res = http(f.server, "/v1/export/journal?format=json", headers);
            CHECK(res->status == 200);
            CHECK(res->get_header_value("Content-Encoding") == encoding);
            CHECK(res->body == json_journal); // inflated by the client
        }
    }

    SECTION("a lawyer's token is forbidden; no token, a wrong one or a revoked one is 401") {
        auto lawyer = http(f.server, "/v1/export/journal", bearer(token_of(f.lawyer)));
        CHECK(lawyer->status == 403);
        CHECK(error_code(lawyer) == "forbidden");
        auto indicators =
            http(f.server, "/v1/export/indicators", bearer(token_of(f.lawyer)), plan_2024());
        CHECK(indicators->status == 403);
        auto none = http(f.server, "/v1/export/breakdown", {});
        CHECK(none->status == 401);
        CHECK(error_code(none) == "unauthenticated");
        auto wrong = http(f.server, "/v1/export/journal", bearer("not-a-token"));
        CHECK(wrong->status == 401);
        server_must(f.server, {"devices", "revoke", f.coordinator.device_id()});
        auto revoked = http(f.server, "/v1/export/journal", coordinator);
        CHECK(revoked->status == 401);
        CHECK(error_code(revoked) == "device_revoked");
    }

    SECTION("a bad parameter is 400 naming it; an unknown region is 404") {
        struct Case {
            std::string path;
            int status;
            std::string says;
        };
        const std::vector<Case> cases = {
            {"/v1/export/journal?format=pdf", 400, "format"},
            {"/v1/export/journal?format=text", 400, "format"},
            {"/v1/export/journal?lang=de", 400, "lang"},
            {"/v1/export/journal?from=2024-02-30", 400, "from"},
            {"/v1/export/journal?from=2024-06-01&to=2024-05-01", 400, "from/to"},
            {"/v1/export/journal?regoin=x", 400, "regoin"},
            {"/v1/export/journal?lang=kk&lang=ru", 400, "lang"},
            {"/v1/export/journal?region=" + query_escape("Маңғыстау обл."), 404, "region"},
            {"/v1/export/breakdown?region=Nowhere", 404, "region"},
            {"/v1/export/breakdown?to=yesterday", 400, "to"},
        };
        for (const Case& c : cases) {
            INFO(c.path);
            auto res = http(f.server, c.path, coordinator);
            CHECK(res->status == c.status);
            CHECK(error_code(res) == (c.status == 404 ? "not_found" : "malformed"));
            CHECK(res->body.find(c.says) != std::string::npos);
        }
        for (const std::string& body :
             {std::string("{\"targets\": {"), std::string("{\"targets\": {\"villages\": 50}}"),
              std::string()}) {
            INFO(body);
            auto res = http(f.server, "/v1/export/indicators", coordinator, body);
            CHECK(res->status == 400);
            CHECK(error_code(res) == "malformed");
            CHECK(res->body.find("plan") != std::string::npos);
        }
        // The access log names the route and the status, never a query value.
        // (The server writes the line after the response: wait for it, boundedly.)
        std::string log;
        for (int i = 0; i < 500; ++i) {
            log = read_file(f.server.data().string() + ".err");
            if (log.find("route=/v1/export/breakdown status=400") != std::string::npos &&
                log.find("route=/v1/export/journal status=404") != std::string::npos) {
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        CHECK(log.find("route=/v1/export/journal status=404") != std::string::npos);
        CHECK(log.find("route=/v1/export/breakdown status=400") != std::string::npos);
        CHECK(log.find("Маңғыстау") == std::string::npos);
        CHECK(log.find("regoin") == std::string::npos);
        CHECK(log.find("2024-02-30") == std::string::npos);
        auto get = http(f.server, "/v1/export/indicators", coordinator);
        CHECK(get->status == 400);
        CHECK(get->body.find("POST") != std::string::npos);
        auto large =
            http(f.server, "/v1/export/indicators", coordinator, std::string(100 * 1024, ' '));
        CHECK(large->status == 413);
    }
}

TEST_CASE("export server: the server CLI exports while a device pushes, each on one snapshot",
          "[export][server]") {
    Field f;
    // 3,000 more consultations, pushed in several transactions while the exports run.
    fs::path csv = f.dir / "paper-journal.csv";
    {
        std::ofstream out(csv);
        out << "date,region,village,gender,age band,social category,topics,question,advice,"
               "outcome\n";
        for (int i = 0; i < 3000; ++i) {
            out << "2024-06-" << (10 + i % 20) << "," << k_region << ",Ауыл " << i % 7
                << ",male,17-22,youth,labour,\"Сұрақ " << i << "\",Кеңес,advice\n";
        }
    }
    f.lawyer.must({"import", csv.string()});
    BackgroundProcess sync({binary("caravan").string(), "--db", f.lawyer.db().string(), "sync"}, {},
                           f.dir / "sync.out", f.dir / "sync.err");
    std::set<std::int64_t> counts;
    for (int round = 0; round < 200; ++round) {
        const bool pushing = sync.running();
        json journal =
            json::parse(server_must(f.server, {"export", "journal", "--all", "--format", "json"}));
        // A whole snapshot: every row numbered, the count at the end agreeing.
        REQUIRE(journal["rows"].size() == journal["count"].get<std::size_t>());
        if (!journal["rows"].empty()) {
            CHECK(journal["rows"].back()["no"] == journal["count"]);
        }
        counts.insert(journal["count"].get<std::int64_t>());
        if (!pushing) {
            break;
        }
    }
    if (sync.running()) {
        REQUIRE(sync.wait(std::chrono::seconds(120)).has_value());
    }
    CHECK(read_file(f.dir / "sync.out").find("sync ok: pushed") != std::string::npos);
    INFO("distinct row counts seen: " << counts.size());
    CHECK(*counts.begin() >= 2);
    CHECK(*counts.rbegin() == 3002); // the last export, after the push, has every row
}
