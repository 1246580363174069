// Activity over time through the real server: every number a chart shows equals the report's
// JSON (`caravan-server report indicators --json`, per region and for all) or a count over
// `caravan-server export journal --format json` where the report has no such table (weeks);
// region scope, viewers and bad input.

#include <chrono>
#include <fstream>
#include <regex>

#include "caravan/web/page.hpp"
#include "dashboard_support.hpp"
#include "process.hpp"

using namespace caravan::test::dashboard;
using caravan::test::binary, caravan::test::run_process;
using nlohmann::json;
namespace server = caravan::test::server;

namespace {

struct VisitSpec {
    std::string date, lawyer, village;
    int consultations = 0;
    std::vector<int>
        attendance; // head counts of attendance entries (none: counted by consultations)
};

// Visits of one device in `region`; villages named alike are one village.
void push_visits(DashboardServer& s, const std::string& region,
                 const std::vector<VisitSpec>& visits) {
    const server::Device device = s.api().enroll({region});
    server::Events ev(device.id);
    std::vector<caravan::storage::Event> events{ev.self("Device Lawyer", region)};
    std::map<std::string, std::string> villages;
    for (const VisitSpec& v : visits) {
        if (!villages.count(v.village)) {
            villages[v.village] = server::new_id();
            events.push_back(ev.village(villages[v.village], v.village, region));
        }
        const std::string visit = server::new_id();
        events.push_back(ev.make("visit", visit,
                                 {{"village_id", villages[v.village]},
                                  {"date", v.date},
                                  {"lawyer", v.lawyer},
                                  {"closed", true},
                                  {"deleted", false}}));
        for (int i = 0; i < v.consultations; ++i) {
            events.push_back(ev.consultation(server::new_id(), visit, "female", k_question));
        }
        for (int n : v.attendance) {
            events.push_back(ev.make("attendance", server::new_id(),
                                     {{"visit_id", visit},
                                      {"gender", "male"},
                                      {"age", "33-45"},
                                      {"category", "unemployed"},
                                      {"vulnerable", false},
                                      {"count", n},
                                      {"deleted", false}}));
        }
    }
    server::Http http(s.port());
    REQUIRE(http.push(device.token, server::batch(device.id, events)).status == 200);
}

// Region A: two visits in the week of 13 May (one with attendance, one counted by its
// consultations), one in June in a village already visited; region B: one visit.
void seed(DashboardServer& s) {
    push_visits(s, k_region_a,
                {{"2024-05-14", "Айгүл", "Ақсу", 3, {12, 8}},
                 {"2024-05-16", "Айгүл", "Бескөл", 2, {}},
                 {"2024-06-03", "Болат", "Ақсу", 1, {5}}});
    push_visits(s, k_region_b, {{"2024-05-20", "Дана", "Шоқан", 4, {}}});
}

std::string cli(DashboardServer& s, std::vector<std::string> args) {
    args.insert(args.begin(), binary("caravan-server").string());
    const auto store = s.store_args();
    args.insert(args.end(), store.begin(), store.end());
    args.insert(args.end(), {"--lang", "kk"});
    const auto r = run_process(args);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// The indicators' facts by code, from `caravan-server report indicators --json`.
std::map<std::string, std::int64_t> facts(DashboardServer& s, const std::string& region) {
    const auto plan = s.api().scratch("plan.json");
    std::ifstream in(std::string(CARAVAN_SOURCE_DIR) + "/docs/examples/plan-2024.json");
    std::ofstream(plan) << in.rdbuf();
    std::vector<std::string> args{"report", "indicators", "--plan", plan.string(), "--json"};
    if (!region.empty()) {
        args.insert(args.end(), {"--region", region});
    }
    std::map<std::string, std::int64_t> out;
    const json report = json::parse(cli(s, args));
    for (const auto& i : report["indicators"]) {
        if (i["fact"].is_number()) {
            out[i["code"]] = std::llround(i["fact"].get<double>());
        }
    }
    return out;
}

// The Monday of a "YYYY-MM-DD" date (the test's own computation).
std::string monday_of(const std::string& date) {
    namespace ch = std::chrono;
    const ch::sys_days day{ch::year{std::stoi(date.substr(0, 4))} / std::stoi(date.substr(5, 2)) /
                           std::stoi(date.substr(8, 2))};
    const ch::year_month_day m{day - (ch::weekday{day} - ch::Monday)};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(m.year()),
                  static_cast<unsigned>(m.month()), static_cast<unsigned>(m.day()));
    return buf;
}

struct Shown {
    std::string chart, kind, key;
    std::map<std::string, std::int64_t> numbers;
};

// Every bar or column of the page's charts with the numbers in its data-* attributes.
std::vector<Shown> charts_of(const std::string& body) {
    std::vector<Shown> out;
    const std::regex svg(R"re(<svg[^>]* id="(chart-[a-z-]+)"[\s\S]*?</svg>)re");
    const std::regex bar(R"re(<g class="bar" data-kind="([a-z]+)" data-key="([^"]*)"([^>]*)>)re");
    const std::regex number(R"re(data-([a-z]+)="([0-9]+)")re");
    for (auto s = std::sregex_iterator(body.begin(), body.end(), svg); s != std::sregex_iterator();
         ++s) {
        const std::string chart = (*s)[0];
        for (auto b = std::sregex_iterator(chart.begin(), chart.end(), bar);
             b != std::sregex_iterator(); ++b) {
            Shown shown{(*s)[1], (*b)[1], (*b)[2], {}};
            const std::string rest = (*b)[3];
            for (auto n = std::sregex_iterator(rest.begin(), rest.end(), number);
                 n != std::sregex_iterator(); ++n) {
                shown.numbers[(*n)[1]] = std::stoll((*n)[2]);
            }
            out.push_back(std::move(shown));
        }
    }
    return out;
}

} // namespace

TEST_CASE("dashboard: every number of the activity charts equals the report's JSON or the "
          "journal's",
          "[dashboard]") {
    DashboardServer server;
    server.add_account("viewer", AccountRole::viewer);
    seed(server);
    Browser browser(server.port());
    REQUIRE(browser.login("viewer").status == 303); // aggregates: a viewer sees them
    const Page page = browser.get("/activity");
    REQUIRE(page.status == 200);
    CHECK(page.body.find(k_question) == std::string::npos);
    CHECK(server.audit_count("activity_viewed") == 1);

    // What the report and the journal say.
    const auto all = facts(server, "");
    const std::map<std::string, std::map<std::string, std::int64_t>> by_region{
        {k_region_a, facts(server, k_region_a)}, {k_region_b, facts(server, k_region_b)}};
    std::map<std::string, std::int64_t> week_consultations, region_consultations;
    const std::string journal = cli(server, {"export", "journal", "--all", "--format", "json"});
    const json rows = json::parse(journal);
    REQUIRE(rows["count"] == 10);
    for (const auto& row : rows["rows"]) {
        ++week_consultations[monday_of(row["date"])];
        ++region_consultations[row["region"]];
    }

    const std::vector<Shown> shown = charts_of(page.body);
    std::map<std::string, std::int64_t> sums;
    std::map<std::string, int> bars;
    for (const Shown& s : shown) {
        INFO(s.chart << " " << s.kind << " " << s.key);
        ++bars[s.chart];
        if (s.kind == "week") {
            const auto in_journal = week_consultations.find(s.key);
            CHECK(s.numbers.at("consultations") ==
                  (in_journal == week_consultations.end() ? 0 : in_journal->second));
        } else if (s.kind == "region") {
            const auto& f = by_region.at(s.key);
            CHECK(s.numbers.at("visits") == f.at("visits"));
            CHECK(s.numbers.at("consultations") == f.at("consultations"));
            CHECK(s.numbers.at("consultations") == region_consultations.at(s.key));
            CHECK(s.numbers.at("participants") == f.at("participants"));
        } else if (s.kind == "villages") {
            CHECK(s.numbers.at("villages") == by_region.at(s.key).at("villages"));
        }
        for (const auto& [name, n] : s.numbers) {
            sums[s.chart + "/" + name] += n;
        }
    }
    // Every chart holds every visit, consultation and participant of the report, once.
    for (const std::string chart : {"chart-weeks-consultations", "chart-weeks-participants",
                                    "chart-regions-consultations", "chart-regions-participants",
                                    "chart-lawyers-consultations", "chart-lawyers-participants"}) {
        INFO(chart);
        CHECK(sums[chart + "/visits"] == all.at("visits"));
        CHECK(sums[chart + "/consultations"] == all.at("consultations"));
        CHECK(sums[chart + "/participants"] == all.at("participants"));
    }
    CHECK(sums["chart-villages/villages"] == all.at("villages"));
    // Every week from 13 May to 3 June, the empty ones as zeros.
    CHECK(bars["chart-weeks-consultations"] == 4);
    CHECK(bars["chart-regions-participants"] == 2);
    CHECK(bars["chart-villages"] == 2);

    // And the numbers themselves, counted by hand: 20 + 2 + 5 participants in region A (the
    // attendance, else one per consultation), 4 in B.
    CHECK(all.at("participants") == 31);
    CHECK(all.at("consultations") == 10);
    CHECK(week_consultations == std::map<std::string, std::int64_t>{
                                    {"2024-05-13", 5}, {"2024-05-20", 4}, {"2024-06-03", 1}});
    std::map<std::string, std::array<std::int64_t, 3>> lawyers, weeks;
    for (const Shown& s : shown) {
        auto& into = s.kind == "lawyer" ? lawyers : weeks;
        if (s.kind == "lawyer" || s.kind == "week") {
            into[s.key] = {s.numbers.at("visits"), s.numbers.at("consultations"),
                           s.numbers.at("participants")};
        }
    }
    using Row = std::array<std::int64_t, 3>;
    CHECK(lawyers == std::map<std::string, Row>{
                         {"Айгүл", {2, 5, 22}}, {"Болат", {1, 1, 5}}, {"Дана", {1, 4, 4}}});
    CHECK(weeks == std::map<std::string, Row>{{"2024-05-13", {2, 5, 22}},
                                              {"2024-05-20", {1, 4, 4}},
                                              {"2024-05-27", {0, 0, 0}},
                                              {"2024-06-03", {1, 1, 5}}});
}

TEST_CASE("dashboard: activity is limited to the account's regions and its period", "[dashboard]") {
    DashboardServer server;
    server.add_account("north", AccountRole::coordinator, {k_region_a});
    seed(server);
    Browser north(server.port());
    REQUIRE(north.login("north").status == 303);
    const Page mine = north.get("/activity");
    REQUIRE(mine.status == 200);
    CHECK(mine.body.find("Айгүл") != std::string::npos);
    CHECK(mine.body.find("Дана") == std::string::npos); // region B's lawyer
    CHECK(mine.body.find(k_region_b) == std::string::npos);
    const Page other = north.get("/activity?region=" + caravan::web::url_encode(k_region_b));
    CHECK(other.status == 403);
    CHECK(other.body.find("Дана") == std::string::npos);
    // A period: only June's visit.
    const Page june = north.get("/activity?from=2024-06-01&to=2024-06-30");
    REQUIRE(june.status == 200);
    const auto shown = charts_of(june.body);
    for (const Shown& s : shown) {
        if (s.kind == "week") {
            CHECK(s.key == "2024-06-03");
        }
    }
    CHECK(june.body.find("Айгүл") == std::string::npos);
    // A bad date is refused with the reason; an empty period says so.
    const Page bad = north.get("/activity?from=2024-13-40");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("id=\"form-error\"") != std::string::npos);
    const Page empty = north.get("/activity?from=2030-01-01");
    CHECK(empty.status == 200);
    CHECK(empty.body.find("id=\"none\"") != std::string::npos);
    CHECK(server.audit_count("activity_viewed") == 3);
}
