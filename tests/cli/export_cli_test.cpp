// `caravan export journal` and `caravan report ...` as a coordinator runs them: the real binary
// (and the command layer in-process), bad input refused with exit code 2 and no file left
// behind, a failure while writing leaves no file either.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/engine.hpp"
#include "must.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A device database with two regions; `extra` consultations make the journal large.
void populate(const fs::path& db, int extra = 0) {
    client::Engine e = must(client::Engine::open(db));
    must(e.init("Ұлтанбаев Арнат", "Ақтөбе обл."));
    must(e.add_village({"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    must(e.add_village({"Ақжар", "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt}));
    auto consult = [&](std::string outcome) {
        client::ConsultationInput in;
        in.person = {"female", "33-45", "unemployed", true};
        in.topics = {"land", "family"};
        in.outcome = std::move(outcome);
        in.question = "Жер телімі, \"шекара\" дауы";
        must(e.add_consultation(in));
    };
    must(e.start_visit("Қызылжар", std::string("2024-05-14")));
    must(e.add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 12}));
    consult("case");
    must(e.add_survey({std::nullopt, 12, 11}));
    must(e.close_visit(std::nullopt));
    must(e.start_visit("Ақжар", std::string("2024-06-02")));
    consult("advice");
    must(e.batch([&]() -> Result<void> {
        for (int i = 0; i < extra; ++i) {
            consult("referred");
        }
        return {};
    }));
}

struct Run {
    int code;
    std::string out, err;
};

Run caravan_binary(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), test::binary("caravan").string());
    auto r = test::run_process(args, {{"CARAVAN_DB", db.string()}});
    return {r.exit_code, r.out, r.err};
}

Run caravan_in_process(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.string()});
    std::ostringstream out, err;
    int code = cli::run(args, out, err);
    return {code, out.str(), err.str()};
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
        names.push_back(e.path().filename().string());
    }
    return names;
}

fs::path plan_2024() {
    return fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";
}

} // namespace

TEST_CASE("export cli: bad input exits 2 with a clear message and leaves no file",
          "[export][cli]") {
    test::TempDir dir;
    fs::path db = dir / "device.db";
    populate(db);
    fs::create_directory(dir / "out");
    fs::path out = dir / "out";
    std::ofstream(dir / "bad-syntax.json") << "{\n  \"targets\": {\n    \"villages\": 50\n"
                                              "    \"participants\": 1250\n  }\n}\n";
    std::ofstream(dir / "partial.json")
        << R"({"targets": {"villages": 50, "participants": 1250, "journals": 4, "lawyers": 5,
              "protected": 125, "photos_per_visit": 10}})";
    std::ofstream(dir / "a-file") << "not a directory";

    struct Case {
        std::vector<std::string> args;
        std::string message;
    };
    const std::string o = (out / "result").string();
    const std::vector<Case> cases = {
        {{"export", "journal", "--region", "Марс обл.", "-o", o + ".csv"},
         "region: no records for this region (known regions: Ақтөбе обл.; Жамбыл обл.)"},
        {{"export", "journal", "--all", "--from", "2024-08-31", "--to", "2024-01-01", "-o",
          o + ".xlsx"},
         "the start date 2024-08-31 is after the end date 2024-01-01"},
        {{"export", "journal", "--all", "--from", "2024-02-30", "-o", o + ".json"},
         "is not a day of the calendar"},
        {{"export", "journal", "--all", "--from", "2024-2-3", "-o", o + ".json"},
         "is not a date of the form YYYY-MM-DD"},
        {{"export", "journal", "-o", o + ".csv"}, "give --region R for one region's journal"},
        {{"export", "journal", "--all", "--region", "Ақтөбе обл.", "-o", o + ".csv"},
         "give --region R for one region's journal"},
        {{"export", "journal", "--all", "--format", "xlsx"}, "xlsx is written to a file"},
        {{"export", "journal", "--all", "-o", o + ".ods"}, "give --format"},
        {{"export", "journal", "--all", "--format", "pdf", "-o", o + ".csv"}, "format: not one of"},
        {{"export", "journal", "--all", "-o", "/proc/caravan-export.csv"},
         "output: cannot create a file in /proc"},
        {{"export", "journal", "--all", "-o", (dir / "missing" / "x.csv").string()},
         "no such directory"},
        {{"export", "journal", "--all", "-o", (dir / "a-file" / "x.csv").string()},
         "is not a directory"},
        {{"report", "indicators", "--plan", (dir / "bad-syntax.json").string(), "-o", o + ".txt"},
         "is not valid JSON at line 4, column 18"},
        {{"report", "indicators", "--plan", (dir / "partial.json").string(), "-o", o + ".xlsx"},
         "\"targets.satisfaction_percent\" is missing"},
        {{"report", "indicators", "--plan", (dir / "none.json").string(), "-o", o + ".json"},
         "cannot be read"},
        {{"report", "indicators", "--plan", plan_2024().string(), "--region", "Марс", "-o",
          o + ".csv"},
         "region: no records for this region"},
        {{"report", "breakdown", "--from", "2024-12-01", "--to", "2024-01-01", "-o", o + ".xlsx"},
         "is after the end date"},
        {{"report", "breakdown", "--region", "Марс", "-o", o + ".json"}, "region: no records"},
    };
    for (auto run : {caravan_binary, caravan_in_process}) {
        for (const Case& c : cases) {
            Run r = run(db, c.args);
            std::string command;
            for (const auto& a : c.args) {
                command += a + " ";
            }
            INFO(command << "\nstderr: " << r.err);
            CHECK(r.code == 2);
            CHECK_THAT(r.err, Catch::Contains(c.message));
            CHECK(r.out.empty());
            CHECK(entries(out).empty());
        }
    }
}

TEST_CASE("export cli: a failure while writing leaves no file and the old one intact",
          "[export][cli]") {
    test::TempDir dir;
    fs::path db = dir / "device.db";
    populate(db, 2000); // a journal of about 300 KB
    fs::path target = dir / "journal.csv";
    std::ofstream(target) << "the previous export\n";
    // The shell ignores SIGXFSZ (inherited through exec) and caps file size at 100 KB:
    // writes past it fail with EFBIG, like a full disk. For XLSX the cap hits libxlsxwriter's
    // temporary sheet data, whose write errors the library itself ignores (regression: it
    // reported success with a truncated sheet).
    for (const std::string format : {"csv", "json", "xlsx"}) {
        INFO(format);
        std::string command = "trap '' XFSZ; ulimit -f 200; exec " +
                              test::binary("caravan").string() + " export journal --all " +
                              "--format " + format + " -o " + target.string();
        auto r = test::run_process({"/bin/sh", "-c", command}, {{"CARAVAN_DB", db.string()}});
        INFO(r.err);
        CHECK(r.exit_code == 1); // an I/O failure, not bad input
        CHECK_THAT(r.err, Catch::Contains("caravan:"));
        CHECK(test::read_file(target) == "the previous export\n");
        std::vector<std::string> names = entries(dir.path());
        std::erase_if(names, [](const std::string& n) { return n.rfind("device.db", 0) == 0; });
        CHECK(names == std::vector<std::string>{"journal.csv"});
    }
}

TEST_CASE("export cli: journals and reports are written where and how they were asked for",
          "[export][cli]") {
    test::TempDir dir;
    fs::path db = dir / "device.db";
    populate(db);

    // Without -o: CSV on stdout (with its BOM); the format follows -o's extension otherwise.
    Run r = caravan_binary(db, {"--lang", "ru", "export", "journal", "--region", "ақтөбе обл."});
    REQUIRE(r.code == 0);
    CHECK(r.out.rfind("\xEF\xBB\xBF№,id,дата,область", 0) == 0);
    CHECK_THAT(r.out, Catch::Contains("\"Жер телімі, \"\"шекара\"\" дауы\""));

    r = caravan_binary(
        db, {"export", "journal", "--all", "-o", (dir / "all.json").string(), "--lang", "kk"});
    REQUIRE(r.code == 0);
    CHECK(r.out == "2 кеңес " + (dir / "all.json").string() + " файлына жазылды\n");
    json journal = json::parse(test::read_file(dir / "all.json"));
    CHECK(journal["format"] == "caravan-journal");
    CHECK(journal["lang"] == "kk");
    CHECK(journal["count"] == 2);

    r = caravan_in_process(
        db, {"--json", "export", "journal", "--all", "-o", (dir / "journals.xlsx").string()});
    REQUIRE(r.code == 0);
    json summary = json::parse(r.out);
    CHECK(summary["format"] == "xlsx");
    CHECK(summary["rows"] == 2);
    CHECK(summary["sheets"] == json::array({"Ақтөбе обл.", "Жамбыл обл."}));
    CHECK(fs::file_size(dir / "journals.xlsx") > 1000);

    // Reports: text by default, JSON with --json, CSV and XLSX to files.
    r = caravan_binary(db, {"report", "indicators", "--plan", plan_2024().string()});
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Period: 2024-01-01 – 2024-08-31"));
    CHECK_THAT(r.out, Catch::Contains("Data-quality warnings: 4"));
    r = caravan_binary(db, {"report", "indicators", "--plan", plan_2024().string(), "--json",
                            "--to", "2024-05-31"});
    REQUIRE(r.code == 0);
    json indicators = json::parse(r.out);
    CHECK(indicators["scope"]["to"] == "2024-05-31");
    CHECK(indicators["indicators"][2]["code"] == "participants");
    CHECK(indicators["indicators"][2]["fact"] == 12);
    r = caravan_binary(db, {"report", "indicators", "--plan", plan_2024().string(), "-o",
                            (dir / "indicators.csv").string()});
    REQUIRE(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("data-quality warnings are not in the CSV"));
    CHECK_THAT(test::read_file(dir / "indicators.csv"), Catch::Contains("participants,"));
    r = caravan_binary(db, {"report", "breakdown", "--region", "Жамбыл обл.", "--format", "json"});
    REQUIRE(r.code == 0);
    json breakdown = json::parse(r.out);
    CHECK(breakdown["participants"] == 1);
    CHECK(breakdown["visits_counted_by_consultations"] == 1);
    r = caravan_binary(
        db, {"--lang", "kk", "report", "breakdown", "-o", (dir / "breakdown.xlsx").string()});
    REQUIRE(r.code == 0);
    CHECK(fs::exists(dir / "breakdown.xlsx"));
    std::vector<std::string> names = entries(dir.path());
    CHECK(std::none_of(names.begin(), names.end(), [](const std::string& n) {
        return n.find(".tmp-") != std::string::npos; // no temporary file left
    }));
}
