// The vulnerable-group flag is yes, no or not recorded end to end (issue 14): a person recorded
// with neither --vulnerable nor --not-vulnerable, or imported from an empty cell, is counted in
// the breakdown's "not recorded" row and leaves the journal's cell empty; `false` stays "no".

#include <catch2/catch.hpp>

#include <fstream>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan::test;
using nlohmann::json;

namespace {

// The breakdown's vulnerable table as code -> participants.
std::map<std::string, std::int64_t> vulnerable_rows(const std::filesystem::path& db) {
    auto r = run_cli_ok(Mode::in_process, db, {"report", "breakdown", "--format", "json"});
    const json b = one_json_document(r.out);
    std::map<std::string, std::int64_t> rows;
    for (const json& table : b["tables"]) {
        if (table["code"] == "vulnerable") {
            for (const json& row : table["rows"]) {
                rows[row["code"].get<std::string>()] = row["participants"].get<std::int64_t>();
            }
        }
    }
    REQUIRE(rows.size() == 3);
    return rows;
}

using Rows = std::map<std::string, std::int64_t>;

std::vector<std::string> consult(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--json",     "consult",    "add",      "--gender", "female",
                                     "--age",      "33-45",      "--category", "unemployed",
                                     "--topic",    "land",       "--outcome", "advice"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// The journal's rows (JSON), by id.
std::map<std::string, json> journal_rows(const std::filesystem::path& db) {
    auto r = run_cli_ok(Mode::in_process, db,
                        {"export", "journal", "--all", "--format", "json"});
    const json doc = one_json_document(r.out);
    std::map<std::string, json> rows;
    for (const json& row : doc["rows"]) {
        rows[row["id"].get<std::string>()] = row;
    }
    return rows;
}

} // namespace

TEST_CASE("vulnerable flag: the command line records yes, no and not recorded",
          "[cli][vulnerable]") {
    TempDir dir;
    const auto db = dir / "device.db";
    init_device_at_visit(db);

    // A visit with attendance counts its attendees.
    run_cli_ok(Mode::in_process, db,
               {"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                "unemployed", "--count", "5"});
    run_cli_ok(Mode::in_process, db,
               {"attend", "add", "--gender", "male", "--age", "59+", "--category", "older",
                "--count", "2", "--not-vulnerable"});
    run_cli_ok(Mode::in_process, db,
               {"attend", "add", "--gender", "male", "--age", "59+", "--category", "older",
                "--count", "3", "--vulnerable"});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 3}, {"no", 2}, {"unrecorded", 5}});

    // A visit without attendance counts its consultations.
    run_cli_ok(Mode::in_process, db, {"visit", "close"});
    run_cli_ok(Mode::in_process, db,
               {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-15"});
    const std::string unrecorded =
        one_json_document(run_cli_ok(Mode::in_process, db, consult({})).out)["id"];
    const std::string no =
        one_json_document(
            run_cli_ok(Mode::in_process, db, consult({"--not-vulnerable"})).out)["id"];
    run_cli_ok(Mode::in_process, db, consult({"--vulnerable"}));
    CHECK(vulnerable_rows(db) == Rows{{"yes", 4}, {"no", 3}, {"unrecorded", 6}});

    auto shown = run_cli_ok(Mode::in_process, db, {"consult", "show", unrecorded});
    CHECK_THAT(shown.out, Catch::Contains("vulnerable: not recorded"));
    shown = run_cli_ok(Mode::in_process, db, {"--lang", "kk", "consult", "show", unrecorded});
    CHECK_THAT(shown.out, Catch::Contains("әлеуметтік осал: көрсетілмеген"));
    shown = run_cli_ok(Mode::in_process, db, {"consult", "show", no});
    CHECK_THAT(shown.out, Catch::Contains("vulnerable: no"));
    auto as_json = one_json_document(
        run_cli_ok(Mode::in_process, db, {"--json", "consult", "show", unrecorded}).out);
    CHECK(as_json["vulnerable"].is_null());

    // The journal: an empty cell for not recorded, "no" for no; JSON null and false.
    auto rows = journal_rows(db);
    CHECK(rows.at(unrecorded)["vulnerable"].is_null());
    CHECK(rows.at(no)["vulnerable"] == false);
    const auto csv = dir / "journal.csv";
    run_cli_ok(Mode::in_process, db, {"export", "journal", "--all", "-o", csv.string()});
    std::string unrecorded_line, no_line;
    std::ifstream in(csv);
    for (std::string line; std::getline(in, line);) {
        if (line.find(unrecorded) != std::string::npos) unrecorded_line = line;
        if (line.find(no) != std::string::npos) no_line = line;
    }
    // ...,female,33–45,unemployed,<vulnerable>,land,...
    CHECK_THAT(unrecorded_line, Catch::Contains(",unemployed,,land,"));
    CHECK_THAT(no_line, Catch::Contains(",unemployed,no,land,"));

    // consult edit sets either value or clears it.
    run_cli_ok(Mode::in_process, db, {"consult", "edit", unrecorded, "--vulnerable"});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 5}, {"no", 3}, {"unrecorded", 5}});
    run_cli_ok(Mode::in_process, db, {"consult", "edit", no, "--vulnerable-unrecorded"});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 5}, {"no", 2}, {"unrecorded", 6}});
    run_cli_ok(Mode::in_process, db, {"consult", "edit", no, "--not-vulnerable"});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 5}, {"no", 3}, {"unrecorded", 5}});

    // Both answers at once is refused, naming the options, and writes nothing.
    const auto before = db_state(db);
    for (const auto& args : {consult({"--vulnerable", "--not-vulnerable"}),
                             std::vector<std::string>{"consult", "edit", no, "--vulnerable",
                                                      "--vulnerable-unrecorded"}}) {
        auto r = run_cli(Mode::in_process, db, args);
        CHECK(r.code != 0);
        CHECK_THAT(r.err, Catch::Contains("--vulnerable"));
    }
    CHECK(db_state(db) == before);
}

TEST_CASE("vulnerable flag: an import's empty cell is not recorded, no stays no",
          "[cli][vulnerable][import]") {
    TempDir dir;
    const auto db = dir / "device.db";
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});
    const auto csv = dir / "journal.csv";
    std::ofstream(csv)
        << "date,region,village,gender,age,category,vulnerable,topics,outcome\n"
           "2024-05-14,Ақтөбе обл.,Қызылжар,female,33-45,unemployed,иә,land,advice\n"
           "2024-05-14,Ақтөбе обл.,Қызылжар,female,33-45,unemployed,жоқ,family,advice\n"
           "2024-05-14,Ақтөбе обл.,Қызылжар,male,59+,older,,land,advice\n"
           "2024-05-15,Ақтөбе обл.,Қызылжар,male,59+,older,нет,credit,advice\n";
    run_cli_ok(Mode::in_process, db, {"import", csv.string()});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 1}, {"no", 2}, {"unrecorded", 1}});

    // A file without the column: every row not recorded.
    const auto bare = dir / "bare.csv";
    std::ofstream(bare) << "date,region,village,gender,age,category,topics,outcome\n"
                           "2024-06-01,Ақтөбе обл.,Шалқар,female,17-22,youth,family,advice\n";
    run_cli_ok(Mode::in_process, db, {"import", bare.string()});
    CHECK(vulnerable_rows(db) == Rows{{"yes", 1}, {"no", 2}, {"unrecorded", 2}});

    // The JSON journal goes back in with the same three answers (null stays not recorded).
    const auto exported = dir / "journal.json";
    run_cli_ok(Mode::in_process, db, {"export", "journal", "--all", "-o", exported.string()});
    const auto copy = dir / "copy.db";
    run_cli_ok(Mode::in_process, copy, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::in_process, copy, {"import", exported.string()});
    CHECK(vulnerable_rows(copy) == Rows{{"yes", 1}, {"no", 2}, {"unrecorded", 2}});

    // Importing the first file again adds nothing: its rows keep their derived ids.
    auto again = one_json_document(
        run_cli_ok(Mode::in_process, db, {"--json", "import", csv.string()}).out);
    CHECK(again["imported"] == 0);
}
