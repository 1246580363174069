// All regions = the sum of the regions, on a coordinator's device that holds what refused and
// orphaned events leave behind (issue 10): a visit whose village never arrived (refused on the
// server), a consultation whose visit never arrived, a region known only from a device record,
// a region with villages and no visit, a lawyer working in two regions, deleted records, a
// region spelt two ways by two laptops.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/client/export/report.hpp"
#include "engine_helpers.hpp"
#include "report_invariant.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using namespace caravan::test;
namespace ex = caravan::client::exports;
using nlohmann::json;

namespace {

const std::string k_aktobe = "Ақтөбе обл.";
const std::string k_zhambyl = "Жамбыл обл.";
const std::string k_abai = "Абай обл.";
const std::string k_turkistan = "Түркістан обл.";

VillageInput village(const std::string& name, const std::string& region) {
    return {name, region, std::nullopt, std::nullopt, std::nullopt};
}

ConsultationInput consultation(const std::string& outcome, const std::string& gender,
                               std::optional<std::string> lawyer = std::nullopt) {
    ConsultationInput in = consultation_input("сұрақ", gender);
    in.outcome = outcome;
    in.lawyer = std::move(lawyer);
    return in;
}

// Applies `from`'s events to `to`, except those of the withheld records.
void deliver_except(Engine& from, Engine& to, const std::set<std::string>& withheld) {
    for (storage::Event& e : all_events(from)) {
        if (withheld.contains(e.entity_id)) {
            continue;
        }
        e.server_seq.reset();
        e.log_position = 0;
        ok(to.apply_remote(e));
    }
}

template <class Report, class Write> json as_json(const Report& report, Write write) {
    std::ostringstream out;
    ok(write(report, ex::Format::json, Lang::en, out));
    return json::parse(out.str());
}

} // namespace

TEST_CASE("reports: every figure for all regions is the sum over the regions, with refused and "
          "orphaned records on the device",
          "[export][scope]") {
    TempDir dir;
    SimDevice a(dir / "a.db", k_field_day_ms), b(dir / "b.db", k_field_day_ms),
        f(dir / "f.db", k_field_day_ms), g(dir / "g.db", k_field_day_ms),
        coordinator(dir / "c.db", k_field_day_ms);
    ok(coordinator->init("Үйлестіруші", k_turkistan));
    ok(coordinator->add_village(village("Шымыр", k_turkistan))); // a region with no visit

    // A lawyer of Ақтөбе: two villages, a full visit and a visit of consultations only.
    ok(a->init("Арнат Ұлтанбаев", k_aktobe));
    ok(a->add_village(village("Қызылжар", k_aktobe)));
    ok(a->add_village(village("Сарыбұлақ", k_aktobe)));
    ok(a->start_visit("Қызылжар", std::string("2024-05-14")));
    ok(a->add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 7}));
    ok(a->add_attendance({std::nullopt, {"male", "59+", "older", false}, 3}));
    ok(a->add_consultation(consultation("case", "female")));
    ok(a->add_consultation(consultation("advice", "male")));
    ok(a->add_survey({std::nullopt, 10, 8}));
    std::filesystem::path photo = dir / "p.jpg";
    std::ofstream(photo) << "photo";
    ok(a->add_photos({std::nullopt, {photo}, std::nullopt, true}));
    ok(a->close_visit(std::nullopt));
    ok(a->start_visit("Сарыбұлақ", std::string("2024-05-15")));
    ok(a->add_consultation(consultation("referred", "unrecorded")));
    Consultation gone = ok(a->add_consultation(consultation("advice", "female")));
    ok(a->remove_consultation(gone.id));

    // A lawyer of Жамбыл; one of its consultations recorded by the lawyer of Ақтөбе as well.
    ok(b->init("Гүлнар Сейітова", k_zhambyl));
    ok(b->add_village(village("Ақжар", k_zhambyl)));
    ok(b->start_visit("Ақжар", std::string("2024-05-16")));
    ok(b->add_attendance({std::nullopt, {"female", "17-22", "youth", false}, 5}));
    ok(b->add_consultation(consultation("case", "female")));
    ok(b->add_consultation(consultation("advice", "female", std::string("Арнат Ұлтанбаев"))));
    ok(b->add_survey({std::nullopt, 4, 4}));

    // Жамбыл again, in capitals, from a laptop that did not know the region's spelling yet.
    ok(g->init("Самат Әлиев", "ЖАМБЫЛ обл."));
    ok(g->add_village(village("Тасты", "ЖАМБЫЛ обл.")));
    ok(g->start_visit("Тасты", std::string("2024-05-19")));
    ok(g->add_attendance({std::nullopt, {"male", "46-58", "ngo", false}, 2}));
    ok(g->add_consultation(consultation("case", "male")));

    // What a server refused never reaches the coordinator: the village of Абай (so its visit
    // arrives without a village) and a second visit (so its consultation arrives alone).
    ok(f->init("Ержан Бекұлы", k_abai));
    Village bes = ok(f->add_village(village("Бескөл", k_abai)));
    ok(f->start_visit("Бескөл", std::string("2024-05-17")));
    ok(f->add_attendance({std::nullopt, {"male", "28-32", "business", false}, 6}));
    ok(f->add_consultation(consultation("case", "male")));
    Visit lost = ok(f->start_visit("Бескөл", std::string("2024-05-18")));
    ok(f->add_consultation(consultation("advice", "female")));

    deliver_except(*a, *coordinator, {});
    deliver_except(*b, *coordinator, {});
    deliver_except(*g, *coordinator, {});
    deliver_except(*f, *coordinator, {bes.id, lost.id});

    ex::Plan plan;
    plan.targets.photos_per_visit = 1;
    auto indicators = [&](std::optional<std::string> region) {
        return as_json(ok(ex::compute_indicators(ok(coordinator->read_view()).database(), plan,
                                                 {std::move(region), {}, {}})),
                       [](const auto& r, auto fmt, auto lang, auto& out) {
                           return ex::write_indicators(r, fmt, lang, out);
                       });
    };
    auto breakdown = [&](std::optional<std::string> region) {
        return as_json(ok(ex::compute_breakdown(ok(coordinator->read_view()).database(),
                                                {std::move(region), {}, {}})),
                       [](const auto& r, auto fmt, auto lang, auto& out) {
                           return ex::write_breakdown(r, fmt, lang, out);
                       });
    };
    // Every region the coordinator knows: from villages, and from device records (Абай).
    std::vector<json> region_indicators, region_breakdowns;
    for (const std::string& region : {k_aktobe, k_zhambyl, k_abai, k_turkistan}) {
        region_indicators.push_back(indicators(region));
        region_breakdowns.push_back(breakdown(region));
    }
    json all_indicators = indicators(std::nullopt);
    json all_breakdown = breakdown(std::nullopt);
    INFO(all_indicators.dump(1));
    require_indicators_add_up(all_indicators, region_indicators);
    require_breakdown_adds_up(all_breakdown, region_breakdowns);

    // The figures themselves: the visit without a village counts nowhere, and says so.
    CHECK(indicator_of(all_indicators, "visits")["fact"] == 4);
    CHECK(indicator_of(all_indicators, "villages")["fact"] == 4);
    CHECK(indicator_of(all_indicators, "consultations")["fact"] == 6);
    CHECK(indicator_of(all_indicators, "journals")["fact"] == 2);
    CHECK(indicator_of(all_indicators, "lawyers")["fact"] == 3);
    CHECK(all_breakdown["participants"] == 18);
    CHECK(indicator_of(region_indicators[1], "visits")["fact"] == 2); // both spellings
    std::map<std::string, std::int64_t> unplaced;
    for (const auto& w : all_indicators["warnings"]) {
        if (!w.contains("visit_id")) {
            unplaced[w["code"].get<std::string>() + "/" + w["records"].get<std::string>()] +=
                w["count"].get<std::int64_t>();
        }
    }
    CHECK(unplaced["unknown_village/visits"] == 1);
    CHECK(unplaced["unknown_visit/consultations"] == 1);
}
