// Journals and indicators through the real server: downloads equal `caravan-server export`,
// the chart's numbers equal the report's JSON, a viewer sees aggregates only.

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>

#include "caravan/web/page.hpp"
#include "dashboard_support.hpp"
#include "process.hpp"

using namespace caravan::test::dashboard;
using caravan::test::binary, caravan::test::run_process;
using nlohmann::json;
namespace server = caravan::test::server;

namespace {

// One device's visit with three consultations in region A.
void seed(DashboardServer& s) {
    const server::Device device = s.api().enroll({k_region_a});
    server::Events ev(device.id);
    const std::string village = server::new_id(), visit = server::new_id();
    std::vector<caravan::storage::Event> events{ev.self("Test Lawyer", k_region_a),
                                                ev.village(village, "Ақсу", k_region_a),
                                                ev.visit(visit, village)};
    for (int i = 0; i < 3; ++i) {
        events.push_back(
            ev.consultation(server::new_id(), visit, i == 0 ? "male" : "female", k_question));
    }
    server::Http http(s.port());
    const server::Reply pushed = http.push(device.token, server::batch(device.id, events));
    REQUIRE(pushed.status == 200);
}

// A seeded server, and a browser logged in as `name`.
int prepare(DashboardServer& s, const std::string& name, AccountRole role) {
    s.add_account(name, role);
    seed(s);
    return s.port();
}
struct Seeded {
    DashboardServer server;
    Browser browser;
    Seeded(const std::string& name, AccountRole role) : browser(prepare(server, name, role)) {
        REQUIRE(browser.login(name).status == 303);
    }
};

std::string plan_text() {
    std::ifstream in(std::string(CARAVAN_SOURCE_DIR) + "/docs/examples/plan-2024.json");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string export_cli(DashboardServer& s, std::vector<std::string> args) {
    args.insert(args.begin(), binary("caravan-server").string());
    const auto store = s.store_args();
    args.insert(args.end(), store.begin(), store.end());
    const auto r = run_process(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

} // namespace

TEST_CASE("dashboard: a journal download equals `caravan-server export journal`", "[dashboard]") {
    Seeded seeded("aigerim", AccountRole::coordinator);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    CHECK(browser.get("/journals").status == 200);
    const Page csv = browser.get("/journals/download?region=&from=&to=&format=csv");
    REQUIRE(csv.status == 200);
    CHECK(csv.headers.find("Content-Disposition")->second.find("caravan-journal.csv") !=
          std::string::npos);
    CHECK(csv.body ==
          export_cli(server, {"export", "journal", "--all", "--format", "csv", "--lang", "kk"}));
    CHECK(csv.body.find(k_question) != std::string::npos);
    const Page by_region = browser.get(
        "/journals/download?region=" + caravan::web::url_encode(k_region_a) + "&format=csv");
    CHECK(by_region.body == export_cli(server, {"export", "journal", "--region", k_region_a,
                                                "--format", "csv", "--lang", "kk"}));
    const Page xlsx = browser.get("/journals/download?format=xlsx");
    REQUIRE(xlsx.status == 200);
    CHECK(xlsx.body.starts_with("PK"));
    CHECK(server.audit_count("journal_downloaded") == 3);
    // A bad date is refused with the reason, and nothing is downloaded or audited.
    const Page bad = browser.get("/journals/download?from=2024-13-40&format=csv");
    CHECK(bad.status == 400);
    CHECK(server.audit_count("journal_downloaded") == 3);
}

TEST_CASE("dashboard: the indicator chart shows the numbers of the report's JSON", "[dashboard]") {
    Seeded seeded("aigerim", AccountRole::coordinator);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    const std::string csrf = browser.get("/indicators").csrf();
    const Page page = browser.post_multipart(
        "/indicators", {{"csrf", csrf, "", ""},
                        {"plan", plan_text(), "plan-2024.json", "application/json"},
                        {"region", "", "", ""}});
    REQUIRE(page.status == 200);
    const Page download = browser.post_multipart(
        "/indicators",
        {{"csrf", csrf, "", ""}, {"plan_text", plan_text(), "", ""}, {"format", "json", "", ""}});
    REQUIRE(download.status == 200);
    const json report = json::parse(download.body);
    // The same document as `caravan-server report indicators --json`.
    const auto plan_file = server.api().scratch("plan.json");
    std::ofstream(plan_file) << plan_text();
    CHECK(report ==
          json::parse(export_cli(server, {"report", "indicators", "--plan", plan_file.string(),
                                          "--json", "--lang", "kk"})));
    std::map<std::string, json> by_code;
    for (const auto& i : report["indicators"]) {
        by_code[i["code"].get<std::string>()] = i;
    }
    const std::regex bar(
        R"re(data-code="([a-z_]+)" data-plan="([^"]*)" data-fact="([^"]*)" data-achieved="([^"]*)")re");
    int bars = 0;
    for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), bar);
         it != std::sregex_iterator(); ++it, ++bars) {
        const std::string code = (*it)[1];
        INFO(code);
        REQUIRE(by_code.count(code) == 1);
        CHECK(json::parse((*it)[2].str()) == by_code[code]["plan"]);
        CHECK(json::parse((*it)[3].str()) == by_code[code]["fact"]);
        CHECK(json::parse((*it)[4].str()) == by_code[code]["achieved_percent"]);
    }
    int with_percent = 0;
    for (const auto& [code, i] : by_code) {
        with_percent += i["achieved_percent"].is_number() ? 1 : 0;
    }
    CHECK(bars == with_percent);
    CHECK(bars >= 5);
}

TEST_CASE(
    "dashboard: a CSV journal of 100000 rows streams whole (chunked) and equals `caravan-server "
    "export journal`",
    "[dashboard][embedded-store]") {
    // Embedded store only: the rows go straight into the projection, which on PostgreSQL is
    // one process's cache of the feed (the CLI's export would build its own from the feed and
    // not see them). The journal on PostgreSQL is the other journal tests' "postgresql: ...".
    Seeded s("aigerim", AccountRole::coordinator);
    {
        // 100,000 consultations written straight into the projection the journal reads (the
        // event path is not what this test is about, and would take minutes to fill).
        auto store = s.server.api().store();
        REQUIRE(store->database().exec(
            "INSERT INTO villages(id, name, region, _created) VALUES('big-village', 'Үлкен ауыл', "
            "'" +
            k_region_a +
            "', 'x');"
            "INSERT INTO visits(id, village_id, date, lawyer, closed, _created)"
            " VALUES('big-visit', 'big-village', '2024-03-01', 'Айгүл', 1, 'x');"
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
            " INSERT INTO consultations(id, visit_id, lawyer, gender, age, category, vulnerable,"
            " topics, outcome, question, advice, follow_up, lang, _created)"
            " SELECT printf('big-%06d', i), 'big-visit', 'Айгүл', 'female', '33-45', 'unemployed',"
            " 0, '[\"land\"]', 'advice', 'сұрақ ' || i || ', \"тырнақша\"', 'кеңес', 0, 'kk', 'x'"
            " FROM n;"));
    }
    const Page csv = s.browser.get("/journals/download?format=csv");
    REQUIRE(csv.status == 200);
    CHECK(csv.headers.find("Transfer-Encoding")->second == "chunked");
    CHECK(csv.headers.count("Content-Length") == 0);
    const std::string cli =
        export_cli(s.server, {"export", "journal", "--all", "--format", "csv", "--lang", "kk"});
    CHECK(std::count(cli.begin(), cli.end(), '\n') == 100'000 + 3 + 1); // rows + seed + header
    CHECK(csv.body.size() == cli.size());
    CHECK(csv.body == cli);
}

TEST_CASE("dashboard: a viewer sees the indicators but never a journal or a consultation's text",
          "[dashboard]") {
    Seeded seeded("viewer", AccountRole::viewer);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    const Page journal = browser.get("/journals/download?format=csv");
    CHECK(journal.status == 403);
    CHECK(journal.body.find(k_question) == std::string::npos);
    CHECK(browser.get("/journals").status == 403);
    const std::string csrf = browser.get("/indicators").csrf();
    for (const std::string format : {"", "json", "csv", "xlsx"}) {
        const Page page = browser.post_multipart("/indicators", {{"csrf", csrf, "", ""},
                                                                 {"plan_text", plan_text(), "", ""},
                                                                 {"format", format, "", ""}});
        CHECK(page.status == 200);
        CHECK(page.body.find(k_question) == std::string::npos);
    }
    CHECK(server.audit_count("journal_downloaded") == 0);
    // A region-scoped account cannot ask for another region.
    server.add_account("north", AccountRole::coordinator, {k_region_a});
    Browser north(server.port());
    REQUIRE(north.login("north").status == 303);
    CHECK(north
              .get("/journals/download?region=" + caravan::web::url_encode(k_region_b) +
                   "&format=csv")
              .status == 403);
    const Page mine = north.get("/journals/download?format=csv"); // its one region
    CHECK(mine.status == 200);
    CHECK(mine.body == export_cli(server, {"export", "journal", "--region", k_region_a, "--format",
                                           "csv", "--lang", "kk"}));
}

TEST_CASE("dashboard: the breakdown charts show the numbers of the report's JSON, with the "
          "\"not recorded\" rows",
          "[dashboard]") {
    Seeded seeded("viewer", AccountRole::viewer);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    const Page page = browser.get("/breakdowns");
    REQUIRE(page.status == 200);
    CHECK(page.body.find("көрсетілмеген") != std::string::npos); // "not recorded", in kk
    CHECK(page.body.find(k_question) == std::string::npos);
    const Page download = browser.get("/breakdowns?region=&from=&to=&format=json");
    REQUIRE(download.status == 200);
    const json report = json::parse(download.body);
    CHECK(report ==
          json::parse(export_cli(server, {"report", "breakdown", "--json", "--lang", "kk"})));
    std::map<std::pair<std::string, std::string>, std::int64_t> expected;
    for (const auto& t : report["tables"]) {
        for (const auto& r : t["rows"]) {
            expected[{t["code"], r["code"]}] = r["participants"];
        }
    }
    const std::regex bar(
        R"re(data-table="([a-z]+)" data-code="([a-z0-9_+-]+)" data-participants="([0-9]+)")re");
    std::size_t bars = 0;
    for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), bar);
         it != std::sregex_iterator(); ++it, ++bars) {
        const std::pair<std::string, std::string> key{(*it)[1], (*it)[2]};
        INFO(key.first << " " << key.second);
        REQUIRE(expected.count(key) == 1);
        CHECK(std::stoll((*it)[3]) == expected[key]);
    }
    CHECK(bars == expected.size());
    CHECK(report["participants"] == 3);
    CHECK(server.audit_count("breakdowns_viewed") == 1);
    CHECK(server.audit_count("breakdown_downloaded") == 1);
}

TEST_CASE("dashboard: a report page read again after a push counts the pushed records (the "
          "report cache is never stale)",
          "[dashboard]") {
    Seeded seeded("aigerim", AccountRole::coordinator);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    const std::string csrf = browser.get("/indicators").csrf();
    // Each report as JSON through the pages (the same computation and cache as the charts).
    const auto participants = [&] {
        const Page p = browser.get("/breakdowns?format=json");
        REQUIRE(p.status == 200);
        return json::parse(p.body)["participants"].get<std::int64_t>();
    };
    const auto indicated = [&] { // the indicators' participants (here: one per consultation)
        const Page p = browser.post_multipart("/indicators", {{"csrf", csrf, "", ""},
                                                              {"plan_text", plan_text(), "", ""},
                                                              {"format", "json", "", ""}});
        REQUIRE(p.status == 200);
        const json report = json::parse(p.body);
        for (const auto& i : report["indicators"]) {
            if (i["code"] == "participants") {
                return std::llround(i["fact"].get<double>());
            }
        }
        FAIL("no participants indicator");
        return 0LL;
    };
    const auto visits_shown = [&] {
        const Page p = browser.get("/activity");
        REQUIRE(p.status == 200);
        const std::regex region(R"re(data-kind="region" data-key="[^"]*" data-visits="([0-9]+)")re");
        std::int64_t n = 0;
        for (auto it = std::sregex_iterator(p.body.begin(), p.body.end(), region);
             it != std::sregex_iterator(); ++it) {
            n += std::stoll((*it)[1]);
        }
        return n;
    };
    // Read twice over the same store: the second answer (from memory) equals the first.
    for (int i = 0; i < 2; ++i) {
        CHECK(participants() == 3);
        CHECK(indicated() == 3);
    }
    const std::int64_t visits = visits_shown();
    CHECK(visits > 0);
    CHECK(visits_shown() == visits);

    seed(server); // another device: one more visit with three consultations
    CHECK(participants() == 6);
    CHECK(indicated() == 6);
    CHECK(visits_shown() == 2 * visits);
}

TEST_CASE("dashboard: a missing, oversized or broken plan is refused with the reason",
          "[dashboard]") {
    Seeded seeded("aigerim", AccountRole::coordinator);
    Browser& browser = seeded.browser;
    const std::string csrf = browser.get("/indicators").csrf();
    const auto post = [&](const std::string& plan) {
        return browser.post_multipart("/indicators",
                                      {{"csrf", csrf, "", ""}, {"plan", plan, "plan.json", ""}});
    };
    const Page none = post("");
    CHECK(none.status == 400);
    CHECK(none.body.find("id=\"form-error\"") != std::string::npos);
    CHECK(post(std::string(70 * 1024, ' ')).status == 413);
    const Page broken = post("{\"format\": \"caravan-plan\", ");
    CHECK(broken.status == 400);
    CHECK(broken.body.find("id=\"chart\"") == std::string::npos);
    CHECK(seeded.server.audit_count("indicators_viewed") == 0);
}

TEST_CASE("dashboard: a data-quality warning links a coordinator to its visit's consultations, "
          "a viewer to nothing",
          "[dashboard]") {
    Seeded seeded("aigerim", AccountRole::coordinator);
    DashboardServer& server = seeded.server;
    Browser& browser = seeded.browser;
    // A second visit, elsewhere, whose consultations the link must leave out.
    seed(server);
    std::string csrf = browser.get("/indicators").csrf();
    const Page download = browser.post_multipart(
        "/indicators",
        {{"csrf", csrf, "", ""}, {"plan_text", plan_text(), "", ""}, {"format", "json", "", ""}});
    REQUIRE(download.status == 200);
    std::set<std::string> warned;
    const json doc = json::parse(download.body);
    for (const auto& w : doc["warnings"]) {
        if (w.contains("visit_id") && w["visit_id"].is_string() && !w["visit_id"].get<std::string>().empty()) {
            warned.insert(w["visit_id"].get<std::string>());
        }
    }
    REQUIRE(warned.size() == 2); // both visits have no attendance
    const Page page = browser.post_multipart(
        "/indicators", {{"csrf", csrf, "", ""}, {"plan_text", plan_text(), "", ""}});
    REQUIRE(page.status == 200);
    const std::regex link(R"re(href="(/records\?visit=([0-9a-f-]+)&amp;region=[^"]*)" class="warning-visit")re");
    std::set<std::string> linked;
    for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), link);
         it != std::sregex_iterator(); ++it) {
        linked.insert((*it)[2]);
        std::string href = (*it)[1];
        href = std::regex_replace(href, std::regex("&amp;"), "&");
        const Page visit = browser.get(href);
        REQUIRE(visit.status == 200);
        CHECK(visit.body.find("id=\"of-visit\"") != std::string::npos);
        // Exactly that visit's three consultations.
        const std::regex row("<tr data-id=\"");
        CHECK(std::distance(std::sregex_iterator(visit.body.begin(), visit.body.end(), row),
                            std::sregex_iterator()) == 3);
    }
    CHECK(linked == warned);
    // Unfiltered, the browser holds both visits' six.
    const Page all = browser.get("/records");
    const std::regex row("<tr data-id=\"");
    CHECK(std::distance(std::sregex_iterator(all.body.begin(), all.body.end(), row),
                        std::sregex_iterator()) == 6);

    server.add_account("viewer", AccountRole::viewer);
    Browser viewer(server.port());
    REQUIRE(viewer.login("viewer").status == 303);
    csrf = viewer.get("/indicators").csrf();
    const Page seen = viewer.post_multipart(
        "/indicators", {{"csrf", csrf, "", ""}, {"plan_text", plan_text(), "", ""}});
    REQUIRE(seen.status == 200);
    CHECK(seen.body.find("warning-visit") == std::string::npos);
    CHECK(seen.body.find("/records?visit=") == std::string::npos);
}
