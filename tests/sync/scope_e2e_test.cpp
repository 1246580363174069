// Issue 10, "A lawyer's visit in another region loses its consultations", end to end with the
// real `caravan-server` and `caravan` binaries: a lawyer of Ақтөбе cannot record in a Жамбыл
// village; a device that already holds such records (made before it was enrolled) has them
// refused together by the server (the visit out_of_scope, the records under it
// parent_rejected), quarantined and shown by `status`; nothing lands in no region, and every
// report for all regions is the sum of the regions' reports, on the server and on the
// coordinator's laptop.
#include "export_server_support.hpp"
#include "report_invariant.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;
using namespace caravan::test::exports;

namespace {

const std::string k_aktobe = "Ақтөбе обл.";
const std::string k_zhambyl = "Жамбыл обл."; // k_region of e2e_support

const std::vector<std::string> k_consult = {"consult", "add",   "--gender",   "female",
                                            "--age",   "33-45", "--category", "unemployed",
                                            "--topic", "land",  "--outcome",  "case"};

void enroll(Laptop& laptop, Server& server, const std::string& lawyer, const std::string& region) {
    laptop.must({"enroll", "--server", server.url(), "--code", server.code(lawyer, {region})});
}

} // namespace

TEST_CASE("e2e scope: a lawyer of one region cannot record in another, and records made there "
          "before enrollment are refused with their visit, never counted in no region",
          "[e2e][scope]") {
    TempDir dir;
    Server server(dir / "server");
    Laptop coordinator(dir / "coordinator.db");
    coordinator.setup(server, "Үйлестіруші", "coordinator");
    coordinator.must({"village", "add", "Қызылжар", "--region", k_aktobe});
    coordinator.must({"village", "add", "Ақжар", "--region", k_zhambyl});
    coordinator.must({"visit", "start", "--village", "Ақжар", "--date", "2024-05-13"});
    coordinator.must({"attend", "add", "--gender", "male", "--age", "59+", "--category", "older",
                      "--count", "4"});
    coordinator.must_sync();

    // A lawyer of Ақтөбе, enrolled: every region's village is listed (reference data), but
    // only its own region takes records.
    Laptop lawyer(dir / "aktobe.db");
    lawyer.must({"init", "--lawyer", "Арнат Ұлтанбаев", "--region", k_aktobe});
    enroll(lawyer, server, "Арнат Ұлтанбаев", k_aktobe);
    lawyer.must_sync();
    CHECK(lawyer.must({"village", "list"}).find("Ақжар") != std::string::npos);
    std::int64_t events_before = static_cast<std::int64_t>(lawyer.own_events().size());
    ProcessResult refused =
        lawyer.run({"visit", "start", "--village", "Ақжар", "--date", "2024-05-14"});
    INFO(describe(refused));
    CHECK(refused.exit_code == 2);
    CHECK(refused.err.find(k_zhambyl) != std::string::npos);
    CHECK(refused.err.find(k_aktobe) != std::string::npos);
    ProcessResult refused_ru =
        lawyer.run({"--lang", "ru", "village", "add", "Бескөл", "--region", k_zhambyl});
    CHECK(refused_ru.exit_code == 2);
    CHECK(refused_ru.err.find("не входит в области") != std::string::npos);
    CHECK(static_cast<std::int64_t>(lawyer.own_events().size()) == events_before);
    lawyer.must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    std::vector<std::string> consult = k_consult;
    lawyer.must(consult);
    lawyer.must_sync();

    // A laptop that recorded in Жамбыл before it was enrolled for Ақтөбе (or before this
    // version): its next record under that visit is refused on the device ...
    Laptop early(dir / "early.db");
    early.must({"init", "--lawyer", "Ержан Бекұлы", "--region", k_aktobe});
    early.must({"village", "add", "Бескөл", "--region", k_zhambyl});
    early.must({"visit", "start", "--village", "Бескөл", "--date", "2024-05-15"});
    early.must(consult);
    early.must({"attend", "add", "--gender", "female", "--age", "23-27", "--category", "youth",
                "--count", "3"});
    enroll(early, server, "Ержан Бекұлы", k_aktobe);
    ProcessResult under = early.run(consult);
    CHECK(under.exit_code == 2);
    CHECK(under.err.find(k_zhambyl) != std::string::npos);
    // ... and what it holds is refused by the server together: the village and visit out of
    // scope, the records under them naming their parent. Sync still succeeds.
    early.must_sync();
    json status = early.must_json({"status"});
    std::map<std::string, std::string> fates; // entity type -> code
    for (const auto& q : status["quarantined"]) {
        fates[q["entity_type"].get<std::string>()] = q["code"].get<std::string>();
    }
    CHECK(fates["village"] == "out_of_scope");
    CHECK(fates["visit"] == "parent_rejected");
    CHECK(fates["consultation"] == "parent_rejected");
    CHECK(fates["attendance"] == "parent_rejected");
    std::string text = early.must({"status"});
    CHECK(text.find("parent_rejected") != std::string::npos);

    // The coordinator learns every accepted record: none without a region.
    coordinator.must_sync();
    json consultations = coordinator.must_json({"consult", "list"});
    CHECK(consultations.size() == 1);
    for (const auto& c : consultations) {
        CHECK(c["region"] == k_aktobe);
        CHECK_FALSE(c["date"].get<std::string>().empty());
    }

    // All regions = the sum of the regions, on the server and on the coordinator's laptop.
    fs::path plan = fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";
    auto server_report = [&](std::vector<std::string> args, std::optional<std::string> region) {
        if (region) {
            args.push_back("--region");
            args.push_back(*region);
        }
        return json::parse(server_must(server, args));
    };
    auto device_report = [&](std::vector<std::string> args, std::optional<std::string> region) {
        if (region) {
            args.push_back("--region");
            args.push_back(*region);
        }
        return json::parse(coordinator.must(args));
    };
    std::vector<std::string> breakdown = {"report", "breakdown", "--format", "json"};
    std::vector<std::string> indicators = {"report",      "indicators", "--plan",
                                           plan.string(), "--format",   "json"};
    for (bool on_server : {true, false}) {
        INFO((on_server ? "server" : "coordinator's laptop"));
        auto run = [&](const std::vector<std::string>& args, std::optional<std::string> region) {
            return on_server ? server_report(args, std::move(region))
                             : device_report(args, std::move(region));
        };
        std::vector<json> b, i;
        for (const std::string& region : {k_aktobe, k_zhambyl}) {
            b.push_back(run(breakdown, region));
            i.push_back(run(indicators, region));
        }
        json all_b = run(breakdown, std::nullopt), all_i = run(indicators, std::nullopt);
        require_breakdown_adds_up(all_b, b);
        require_indicators_add_up(all_i, i);
        CHECK(indicator_of(all_i, "visits")["fact"] == 2);
        CHECK(indicator_of(all_i, "consultations")["fact"] == 1);
        CHECK(all_b["participants"] == 5);
    }
}
