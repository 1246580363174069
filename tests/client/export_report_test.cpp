// Indicators and breakdowns: the plan file, the participant-counting rule, warnings.

#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "must.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
namespace ex = caravan::client::exports;
namespace fs = std::filesystem;

namespace {

const char* k_full_targets = R"("villages": 50, "participants": 1250, "journals": 4,
    "lawyers": 5, "protected": 125, "satisfaction_percent": 75, "photos_per_visit": 10)";

std::string plan_error(const std::string& text) {
    auto plan = ex::parse_plan(text, "plan.json");
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code == ErrorCode::invalid_input);
    return plan.error().message;
}

const ex::Indicator& indicator(const ex::IndicatorReport& r, const std::string& code) {
    for (const ex::Indicator& i : r.indicators) {
        if (i.code == code) {
            return i;
        }
    }
    FAIL("no indicator " << code);
    throw std::logic_error("unreachable");
}

const ex::BreakdownTable& table(const ex::Breakdown& b, const std::string& code) {
    for (const ex::BreakdownTable& t : b.tables) {
        if (t.code == code) {
            return t;
        }
    }
    FAIL("no table " << code);
    throw std::logic_error("unreachable");
}

std::int64_t row(const ex::BreakdownTable& t, const std::string& code) {
    for (const ex::BreakdownRow& r : t.rows) {
        if (r.code == code) {
            return r.participants;
        }
    }
    return -1;
}

ex::Plan plan_with_photos(double photos_per_visit) {
    ex::Plan plan;
    plan.targets.photos_per_visit = photos_per_visit;
    return plan;
}

size_t count_kind(const ex::IndicatorReport& r, ex::WarningKind kind) {
    return static_cast<size_t>(std::count_if(r.warnings.begin(), r.warnings.end(),
                                             [&](const ex::Warning& w) { return w.kind == kind; }));
}

} // namespace

TEST_CASE("plan: the 2024 example plan reproduces the report's plan column", "[export]") {
    auto plan = must(ex::load_plan(fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json"));
    CHECK(plan.targets.villages == 50);
    CHECK(plan.targets.participants == 1250);
    CHECK(plan.targets.journals == 4);
    CHECK(plan.targets.lawyers == 5);
    CHECK(plan.targets.protected_people == 125);
    CHECK(plan.targets.satisfaction_percent == 75);
    CHECK(plan.targets.photos_per_visit == 10);
    CHECK(plan.from == "2024-01-01");
    CHECK(plan.to == "2024-08-31");
    CHECK_FALSE(plan.targets.visits);
}

TEST_CASE("plan: a malformed or partial plan names the key or the position", "[export]") {
    std::string full = std::string("{\"targets\": {") + k_full_targets + "}}";
    CHECK(ex::parse_plan(full, "plan.json"));

    // Syntax errors: line, column (in characters) and byte.
    std::string message = plan_error("{\n  \"name\": \"Жоспар\"\n  \"targets\": {}\n}");
    // nlohmann points at the end of the unexpected token: "targets" on line 3.
    CHECK_THAT(message, Catch::Contains("plan plan.json: is not valid JSON at line 3, column 11 "
                                        "(byte 38)"));
    // Columns count characters, bytes count bytes.
    CHECK_THAT(plan_error("{\"name\": \"Жоспар\" 5}"),
               Catch::Contains("at line 1, column 19 (byte 25)"));
    CHECK_THAT(plan_error(full.substr(0, full.size() - 3)), Catch::Contains("line 2"));
    CHECK_THAT(plan_error(""), Catch::Contains("line 1, column 1"));

    // A number beyond a double is an error, not an escaping exception (regression).
    CHECK_THAT(plan_error("{\"targets\": {\"villages\": 1e999}}"),
               Catch::Contains("a number is out of range"));
    CHECK_THAT(plan_error("[1, 2]"), Catch::Contains("must hold a JSON object"));
    CHECK_THAT(plan_error("{}"), Catch::Contains("\"targets\" is missing"));
    CHECK_THAT(plan_error(R"({"targets": {"villages": 50, "participants": 1250}})"),
               Catch::Contains("\"targets.journals\" is missing"));
    CHECK_THAT(plan_error(R"({"targets": {"villages": "50"}})"),
               Catch::Contains("\"targets.villages\" must be a whole number"));
    CHECK_THAT(plan_error(R"({"targets": {"villages": 50.5}})"),
               Catch::Contains("\"targets.villages\" must be a whole number"));
    CHECK_THAT(plan_error(R"({"targets": {"villages": -1}})"),
               Catch::Contains("\"targets.villages\" must be between 0"));
    CHECK_THAT(plan_error(std::string("{\"targets\": {") + k_full_targets + ", \"vilages\": 3}}"),
               Catch::Contains("\"targets.vilages\" is not a target"));
    CHECK_THAT(plan_error(std::string("{\"targets\": {") + k_full_targets + "}, \"extra\": 1}"),
               Catch::Contains("\"extra\" is not a plan key"));
    std::string high = full;
    high.replace(high.find("\"satisfaction_percent\": 75"), 26, "\"satisfaction_percent\": 175");
    CHECK_THAT(plan_error(high),
               Catch::Contains("\"targets.satisfaction_percent\" must be between 0 and 100"));
    CHECK_THAT(plan_error(std::string("{\"period\": {\"from\": \"2024-09-01\", \"to\": "
                                      "\"2024-01-01\"}, \"targets\": {") +
                          k_full_targets + "}}"),
               Catch::Contains("\"period\" starts after it ends"));
    CHECK_THAT(plan_error(std::string("{\"period\": {\"from\": \"2024-13-01\"}, \"targets\": {") +
                          k_full_targets + "}}"),
               Catch::Contains("\"period.from\" must be a date"));
    CHECK_THAT(plan_error(std::string("{\"version\": 2, \"targets\": {") + k_full_targets + "}}"),
               Catch::Contains("\"version\" must be 1"));

    auto missing = ex::load_plan("/nonexistent/plan.json");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::not_found);
}

TEST_CASE("breakdown: attendance counts participants, consultations only where no attendance",
          "[export]") {
    test::TempDir dir;
    Engine e = must(Engine::open(dir / "d.db"));
    must(e.init("Заңгер", "Ақтөбе обл."));
    must(e.add_village({"Ақжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    must(e.add_village({"Бескөл", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    auto consult = [&](PersonInput p) {
        ConsultationInput in;
        in.person = std::move(p);
        in.topics = {"land"};
        in.outcome = "advice";
        must(e.add_consultation(in));
    };
    // Visit 1: 10 at the meeting (attendance); 3 of them then consulted: still 10 people.
    must(e.start_visit("Ақжар", std::string("2024-05-01")));
    must(e.add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 6}));
    must(e.add_attendance({std::nullopt, {"male", "59+", "older", false}, 4}));
    consult({"female", "33-45", "unemployed", true});
    consult({"female", "33-45", "unemployed", true});
    consult({"male", "59+", "older", false});
    must(e.close_visit(std::nullopt));
    // Visit 2: no attendance recorded; 2 consultations are 2 people with their own breakdowns.
    must(e.start_visit("Бескөл", std::string("2024-05-02")));
    consult({"unrecorded", "17-22", "youth", false});
    consult({"male", "unrecorded", "unrecorded", true});
    must(e.close_visit(std::nullopt));

    auto b = must(ex::compute_breakdown(must(e.read_view()).database(), {}));
    CHECK(b.participants == 12);
    CHECK(b.visits == 2);
    CHECK(b.visits_counted_by_consultations == 1);
    for (const ex::BreakdownTable& t : b.tables) {
        INFO(t.code);
        std::int64_t sum = 0;
        for (const ex::BreakdownRow& r : t.rows) {
            sum += r.participants;
        }
        CHECK(sum == 12);
        CHECK(t.total == 12);
        CHECK(row(t, "unrecorded") >= 0); // the row is there, even when zero
    }
    CHECK(row(table(b, "gender"), "female") == 6);
    CHECK(row(table(b, "gender"), "male") == 5);
    CHECK(row(table(b, "gender"), "unrecorded") == 1);
    CHECK(row(table(b, "age"), "unrecorded") == 1);
    CHECK(row(table(b, "category"), "unrecorded") == 1);
    CHECK(row(table(b, "category"), "children") == 0);
    CHECK(row(table(b, "vulnerable"), "yes") == 7);
    CHECK(row(table(b, "vulnerable"), "no") == 5);
    CHECK(row(table(b, "vulnerable"), "unrecorded") == 0);

    auto report =
        must(ex::compute_indicators(must(e.read_view()).database(), plan_with_photos(0), {}));
    CHECK(indicator(report, "participants").fact == 12); // the same rule
    CHECK(indicator(report, "consultations").fact == 5);
    CHECK(count_kind(report, ex::WarningKind::visit_without_attendance) == 1);
    CHECK(count_kind(report, ex::WarningKind::consultation_unrecorded) == 3);

    // Region and dates narrow the same way.
    b = must(ex::compute_breakdown(must(e.read_view()).database(),
                                   {std::nullopt, std::string("2024-05-02"), {}}));
    CHECK(b.participants == 2);
    auto bad =
        ex::compute_breakdown(must(e.read_view()).database(), {std::string("Абай обл."), {}, {}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::not_found);
}

TEST_CASE("indicators: facts and warnings from the records", "[export]") {
    test::TempDir dir;
    Engine e = must(Engine::open(dir / "d.db"));
    must(e.init("Бекболатов Ардан", "Жамбыл обл."));
    must(e.add_village({"Ақжар", "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt}));
    must(e.add_village({"Бескөл", "Абай обл.", std::nullopt, std::nullopt, std::nullopt}));
    auto consult = [&](std::string outcome, std::optional<std::string> lawyer = std::nullopt) {
        ConsultationInput in;
        in.person = {"female", "23-27", "youth", false};
        in.topics = {"family"};
        in.outcome = std::move(outcome);
        in.lawyer = std::move(lawyer);
        return must(e.add_consultation(in));
    };
    // Two visits to Ақжар (one village), one to Бескөл left open.
    Visit v1 = must(e.start_visit("Ақжар", std::string("2024-02-01")));
    must(e.add_attendance({std::nullopt, {"female", "unrecorded", "youth", false}, 2}));
    consult("case");
    consult("case");
    consult("advice", std::string("бекболатов  ардан")); // the same lawyer, other spelling
    must(e.add_survey({std::nullopt, 10, 9}));
    must(e.close_visit(std::nullopt));
    must(e.start_visit(v1.village_id, std::string("2024-03-01")));
    must(e.add_attendance({std::nullopt, {"male", "28-32", "other", false}, 4}));
    Consultation removed = consult("case");
    must(e.remove_consultation(removed.id));
    must(e.add_survey({std::nullopt, 10, 6}));
    std::vector<fs::path> files;
    for (int i = 0; i < 3; ++i) {
        files.push_back(dir / ("p" + std::to_string(i)));
        std::ofstream(files.back()) << "photo " << i;
    }
    must(e.add_photos({std::nullopt, files, std::nullopt, true}));
    must(e.close_visit(std::nullopt));
    must(e.start_visit("Бескөл", std::string("2024-03-02")));
    consult("referred", std::string("Жусипов Марат"));

    ex::Plan plan = must(ex::parse_plan(R"({"targets": {"villages": 2, "participants": 10,
        "journals": 2, "lawyers": 2, "protected": 4, "satisfaction_percent": 75,
        "photos_per_visit": 2, "visits": 3}})",
                                        "test"));
    auto r = must(ex::compute_indicators(must(e.read_view()).database(), plan, {}));
    CHECK(indicator(r, "villages").fact == 2);
    CHECK(indicator(r, "visits").fact == 3);
    CHECK(indicator(r, "visits").achieved_percent == 100.0);
    CHECK(indicator(r, "participants").fact == 7); // 2 + 4 + 1 (no attendance at Бескөл)
    CHECK(indicator(r, "participants").achieved_percent == 70.0);
    CHECK(indicator(r, "participants").met == false);
    CHECK(indicator(r, "consultations").fact == 4); // the deleted one is not counted
    CHECK_FALSE(indicator(r, "consultations").plan);
    CHECK_FALSE(indicator(r, "consultations").achieved_percent);
    CHECK(indicator(r, "journals").fact == 2);
    CHECK(indicator(r, "lawyers").fact == 2);
    CHECK(indicator(r, "protected").fact == 2);
    CHECK(indicator(r, "protected").achieved_percent == 50.0);
    CHECK(indicator(r, "satisfaction_percent").fact == Approx(75.0));
    CHECK(indicator(r, "satisfaction_percent").met == true);
    CHECK(indicator(r, "satisfaction_percent").numerator == 15);
    CHECK(indicator(r, "satisfaction_percent").denominator == 20);
    CHECK(indicator(r, "photos_per_visit").fact == Approx(1.0));
    CHECK(indicator(r, "photos_per_visit").achieved_percent == 50.0);

    // Warnings, in visit order.
    using K = ex::WarningKind;
    CHECK(count_kind(r, K::consultations_exceed_attendance) == 1); // 3 consultations, 2 people
    CHECK(count_kind(r, K::attendance_unrecorded) == 1);
    CHECK(count_kind(r, K::photos_below_plan) == 2); // 0 and 0; the second visit has 3
    CHECK(count_kind(r, K::open_visit) == 1);
    CHECK(count_kind(r, K::visit_without_attendance) == 1);
    CHECK(r.warnings.front().visit_id == v1.id);
    CHECK(r.warnings.front().kind == K::consultations_exceed_attendance);
    CHECK(r.warnings.front().count == 3);
    CHECK(r.warnings.front().expected == 2);
    CHECK(r.warnings.back().kind == K::open_visit);
    CHECK(r.warnings.back().village == "Бескөл");

    // The request's dates override the plan's period; a region narrows everything.
    r = must(ex::compute_indicators(must(e.read_view()).database(), plan,
                                    {std::string("абай обл."), {}, std::string("2024-12-31")}));
    CHECK(r.scope.region == "Абай обл.");
    CHECK(indicator(r, "visits").fact == 1);
    CHECK(indicator(r, "journals").fact == 1);
    CHECK_FALSE(indicator(r, "satisfaction_percent").fact); // no answers: no fact
    CHECK_FALSE(indicator(r, "satisfaction_percent").met);
    auto inverted = ex::compute_indicators(
        must(e.read_view()).database(), plan,
        {std::nullopt, std::string("2024-05-01"), std::string("2024-04-01")});
    REQUIRE_FALSE(inverted);
    CHECK(inverted.error().code == ErrorCode::invalid_input);
}

TEST_CASE("indicators: records whose visit is not known here are reported, not counted",
          "[export]") {
    test::TempDir dir;
    Engine e = must(Engine::open(dir / "coordinator.db"));
    // A consultation synced before its visit.
    storage::Event event;
    event.device_id = uuid_v7(1715680800000);
    event.seq = 1;
    event.hlc = Hlc::from_parts(1715680800000, 0).value;
    event.entity_type = "consultation";
    event.entity_id = uuid_v7(1715680800001);
    event.op = "create";
    event.payload = nlohmann::json{{"fields",
                                    {{"visit_id", uuid_v7(1715680800002)},
                                     {"lawyer", "Заңгер"},
                                     {"gender", "female"},
                                     {"age", "33-45"},
                                     {"category", "other"},
                                     {"vulnerable", false},
                                     {"topics", {"land"}},
                                     {"outcome", "case"},
                                     {"question", nullptr},
                                     {"advice", nullptr},
                                     {"follow_up", false},
                                     {"lang", nullptr},
                                     {"deleted", false}}}}
                        .dump();
    REQUIRE(must(e.apply_remote(event)));
    auto r = must(ex::compute_indicators(must(e.read_view()).database(), plan_with_photos(10), {}));
    CHECK(indicator(r, "consultations").fact == 0);
    CHECK(indicator(r, "protected").fact == 0);
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].kind == ex::WarningKind::unknown_visit);
    CHECK(r.warnings[0].field == "consultations");
    CHECK(r.warnings[0].count == 1);
    CHECK_THAT(ex::describe(r.warnings[0], Lang::en), Catch::Contains("not synced yet?"));
}
