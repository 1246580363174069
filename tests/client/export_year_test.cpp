// A year shaped like the 2024 grant report, recorded on five devices by gen_year, merged into a
// coordinator database by applying every device's events (as sync will), in several orders:
// the computed indicators and breakdowns equal what the generator put in, every breakdown sums
// to its total, and the exports are byte-identical whatever the order.
// tests/sync/export_server_year_test.cpp takes the same generated year through real sync
// instead: five devices push to a real server, a coordinator pulls, and the coordinator's,
// `caravan-server`'s and the HTTP endpoints' exports are byte-identical.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/report.hpp"
#include "must.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
namespace ex = caravan::client::exports;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Every event of a device database, in log order.
std::vector<storage::Event> events_of(const fs::path& db) {
    Engine device = must(Engine::open(db));
    std::vector<storage::Event> events;
    (void)must(device.scan_events(0, std::numeric_limits<std::int64_t>::max(),
                                  [&](const storage::Event& e) {
                                      events.push_back(e);
                                      return true;
                                  }));
    return events;
}

// Applies `events` to a fresh coordinator in batches of 100 (one transaction each, like sync).
void merge(Engine& coordinator, const std::vector<storage::Event>& events) {
    for (size_t start = 0; start < events.size(); start += 100) {
        auto ok = coordinator.batch([&]() -> Result<void> {
            for (size_t i = start; i < std::min(events.size(), start + 100); ++i) {
                auto applied = coordinator.apply_remote(events[i]);
                if (!applied) {
                    return tl::unexpected(applied.error());
                }
            }
            return {};
        });
        if (!ok) {
            FAIL("merge failed: " << ok.error().message);
        }
    }
}

struct Exports {
    std::string journal_csv, journal_json, indicators_text, indicators_json, breakdown_json,
        fingerprint;
    bool operator==(const Exports&) const = default;
};

const ex::Indicator& indicator(const ex::IndicatorReport& r, const std::string& code) {
    auto it = std::find_if(r.indicators.begin(), r.indicators.end(),
                           [&](const ex::Indicator& i) { return i.code == code; });
    REQUIRE(it != r.indicators.end());
    return *it;
}

void check_breakdown(const ex::Breakdown& b, const json& expected) {
    CHECK(b.participants == expected["total"].get<std::int64_t>());
    for (const ex::BreakdownTable& t : b.tables) {
        INFO("table " << t.code);
        std::int64_t sum = 0;
        for (const ex::BreakdownRow& r : t.rows) {
            sum += r.participants;
            std::int64_t want = expected[t.code].value(r.code, std::int64_t{0});
            INFO("row " << r.code);
            CHECK(r.participants == want);
        }
        CHECK(sum == b.participants);
        CHECK(t.total == b.participants);
    }
}

} // namespace

TEST_CASE("year: indicators and breakdowns of the merged devices equal the generated figures",
          "[export][year]") {
    test::TempDir dir;
    auto gen = test::run_process(
        {test::binary("gen_year").string(), "--out", (dir / "year").string(), "--seed", "2024"}, {},
        {}, std::chrono::seconds(300));
    INFO(gen.err);
    REQUIRE(gen.exit_code == 0);
    json expected = json::parse(gen.out);

    std::vector<std::vector<storage::Event>> devices;
    for (const auto& path : expected["devices"]) {
        devices.push_back(events_of(path.get<std::string>()));
    }
    REQUIRE(devices.size() == 5);

    // Orders: device by device, devices reversed, round-robin, and a full shuffle (events of
    // one record may then arrive before its create).
    std::vector<std::pair<std::string, std::vector<storage::Event>>> orders;
    std::vector<storage::Event> forward, reversed, round_robin;
    for (const auto& d : devices) {
        forward.insert(forward.end(), d.begin(), d.end());
    }
    for (auto it = devices.rbegin(); it != devices.rend(); ++it) {
        reversed.insert(reversed.end(), it->begin(), it->end());
    }
    for (size_t i = 0;; ++i) {
        bool any = false;
        for (const auto& d : devices) {
            if (i < d.size()) {
                round_robin.push_back(d[i]);
                any = true;
            }
        }
        if (!any) {
            break;
        }
    }
    std::vector<storage::Event> shuffled = forward;
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(20241124));
    orders = {{"forward", forward},
              {"reversed", reversed},
              {"round robin", round_robin},
              {"shuffled", shuffled}};

    auto plan = must(ex::load_plan(fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json"));
    std::optional<Exports> first;
    for (const auto& [name, events] : orders) {
        INFO("merged " << name); // not SECTIONs: the orders are compared with each other
        {
            Engine coordinator = must(Engine::open(dir / ("coordinator-" + name + ".db")));
            merge(coordinator, events);
            auto view = must(coordinator.read_view());
            storage::Database& db = view.database();

            auto report = must(ex::compute_indicators(db, plan, {}));
            CHECK(report.scope.from == "2024-01-01"); // the plan's period
            CHECK(report.scope.to == "2024-08-31");
            CHECK(indicator(report, "villages").fact == expected["villages"].get<double>());
            CHECK(indicator(report, "visits").fact == expected["visits"].get<double>());
            CHECK(indicator(report, "participants").fact == expected["participants"].get<double>());
            CHECK(indicator(report, "participants").fact == 1360);
            CHECK(indicator(report, "participants").achieved_percent == 108.8);
            CHECK(indicator(report, "consultations").fact ==
                  expected["consultations"].get<double>());
            CHECK(indicator(report, "journals").fact == 4);
            CHECK(indicator(report, "lawyers").fact == 5);
            CHECK(indicator(report, "protected").fact == 125);
            CHECK(indicator(report, "protected").met == true);
            CHECK(indicator(report, "satisfaction_percent").fact == Approx(95.0));
            CHECK(indicator(report, "satisfaction_percent").numerator ==
                  expected["satisfied"].get<std::int64_t>());
            CHECK(indicator(report, "satisfaction_percent").denominator ==
                  expected["respondents"].get<std::int64_t>());
            CHECK(indicator(report, "photos_per_visit").numerator == 720);
            CHECK(indicator(report, "photos_per_visit").fact == Approx(10.0));
            CHECK(indicator(report, "villages").achieved_percent == 144.0);
            for (const auto& [kind, count] : expected["warnings"].items()) {
                INFO("warning " << kind);
                auto n = std::count_if(
                    report.warnings.begin(), report.warnings.end(),
                    [&](const ex::Warning& w) { return ex::to_string(w.kind) == kind; });
                CHECK(n == count.get<std::int64_t>());
            }

            auto breakdown = must(ex::compute_breakdown(db, {std::nullopt, plan.from, plan.to}));
            check_breakdown(breakdown, expected["breakdown"]);
            CHECK(breakdown.visits_counted_by_consultations ==
                  expected["warnings"]["visit_without_attendance"].get<std::int64_t>());
            for (const auto& [region, participants] : expected["regions"].items()) {
                auto regional = must(ex::compute_breakdown(db, {region, plan.from, plan.to}));
                INFO("region " << region);
                CHECK(regional.participants == participants.get<std::int64_t>());
                for (const ex::BreakdownTable& t : regional.tables) {
                    CHECK(t.total == regional.participants);
                }
            }
            // All dates: the September visit is counted too.
            auto all = must(ex::compute_breakdown(db, {}));
            CHECK(all.participants ==
                  1360 + expected["after_period"]["participants"].get<std::int64_t>());

            Exports e;
            std::ostringstream out;
            must(ex::write_journal(db, {{}, Lang::kk}, ex::Format::csv, out));
            e.journal_csv = out.str();
            out.str("");
            auto summary = must(ex::write_journal(db, {{}, Lang::ru}, ex::Format::json, out));
            e.journal_json = out.str();
            out.str("");
            // Every date: the period's consultations and the September visit's two.
            CHECK(summary.rows == expected["consultations"].get<std::int64_t>() + 2);
            must(ex::write_indicators(report, ex::Format::text, Lang::kk, out));
            e.indicators_text = out.str();
            out.str("");
            must(ex::write_indicators(report, ex::Format::json, Lang::en, out));
            e.indicators_json = out.str();
            out.str("");
            must(ex::write_breakdown(breakdown, ex::Format::json, Lang::ru, out));
            e.breakdown_json = out.str();
            e.fingerprint = must(coordinator.fingerprint());
            // CARAVAN_EXPORT_SAMPLES=DIR keeps this year's reports for docs/exports.md.
            if (const char* samples = std::getenv("CARAVAN_EXPORT_SAMPLES");
                samples && name == "forward") {
                for (Lang lang : {Lang::kk, Lang::en}) {
                    std::string l(to_string(lang));
                    must(ex::export_indicators(report, ex::Format::text, lang,
                                               fs::path(samples) / ("indicators." + l + ".txt")));
                    must(ex::export_breakdown(breakdown, ex::Format::text, lang,
                                              fs::path(samples) / ("breakdown." + l + ".txt")));
                }
                must(ex::export_journal(db, {{}, Lang::ru}, ex::Format::csv,
                                        fs::path(samples) / "journal.ru.csv"));
            }
            if (name == "forward") {
                // The coordinator's workbook: one sheet per region, every row there.
                fs::path file = dir / "journals-2024.xlsx";
                auto book = must(ex::export_journal(
                    db, {{std::nullopt, plan.from, plan.to}, Lang::kk}, ex::Format::xlsx, file));
                CHECK(book.sheets == std::vector<std::string>{"Абай обл.", "Ақмола обл.",
                                                              "Ақтөбе обл.", "Жамбыл обл."});
                auto read = test::run_process(
                    {"/usr/bin/python3",
                     (fs::path(CARAVAN_SOURCE_DIR) / "tests/fixtures/export/read_xlsx.py").string(),
                     file.string()});
                REQUIRE(read.exit_code == 0);
                json sheets = json::parse(read.out)["sheets"];
                REQUIRE(sheets.size() == 4);
                std::int64_t rows = 0;
                for (const auto& sheet : sheets) {
                    rows += sheet["max_row"].get<std::int64_t>() - 1;
                    CHECK(sheet["rows"][1][2]["is_date"] == true);
                }
                CHECK(rows == expected["consultations"].get<std::int64_t>());
            }
            if (!first) {
                first = e;
            } else {
                CHECK(e.journal_csv == first->journal_csv);
                CHECK(e.journal_json == first->journal_json);
                CHECK(e.indicators_text == first->indicators_text);
                CHECK(e.indicators_json == first->indicators_json);
                CHECK(e.breakdown_json == first->breakdown_json);
                CHECK(e.fingerprint == first->fingerprint);
            }
        }
    }
}
