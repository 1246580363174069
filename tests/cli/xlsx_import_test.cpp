// `caravan import` of spreadsheets and of the JSON journal export (issue 14, "Exports on paper
// and back in"): the project's own XLSX export and JSON export import back into a fresh device
// (same rows when exported again, nothing duplicated on a second import); a hand-made sheet
// with kk or ru headers imports; damaged and hostile workbooks are refused with exit 2 and a
// message naming the file, never a cell.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>
#include <xlsxwriter.h>
#include <zip.h>

#include "app.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/xlsx_reader.hpp"
#include "must.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Run {
    int code;
    std::string out, err;
};

Run run_caravan(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.string()});
    std::ostringstream out, err;
    int code = cli::run(args, out, err);
    return {code, out.str(), err.str()};
}

Run caravan_binary(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {test::binary("caravan").string(), "--db", db.string()});
    auto r = test::run_process(args);
    return {r.exit_code, r.out, r.err};
}

// A device with consultations in two regions, with long texts, quotes and line breaks.
void populate(const fs::path& db) {
    client::Engine e = must(client::Engine::open(db));
    must(e.init("Ұлтанбаев Арнат", "Ақтөбе обл."));
    must(e.add_village({"Қызылжар", "Ақтөбе обл.", std::string("Мұғалжар ауданы"), std::nullopt,
                        std::nullopt}));
    must(e.add_village({"Ақжар", "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt}));
    auto consult = [&](std::string outcome, std::string question, bool follow_up) {
        client::ConsultationInput in;
        in.person = {"female", "33-45", "unemployed", true};
        in.topics = {"land", "family"};
        in.outcome = std::move(outcome);
        in.question = std::move(question);
        in.advice = "Аудандық соттың шешіміне шағым беру тәртібі түсіндірілді";
        in.follow_up = follow_up;
        must(e.add_consultation(in));
    };
    must(e.start_visit("Қызылжар", std::string("2024-05-14")));
    consult("case", "Жер телімі, \"шекара\" дауы;\nкөршімен келісім жоқ", true);
    consult("advice", "Алимент өндіру", false);
    must(e.close_visit(std::nullopt));
    must(e.start_visit("Ақжар", std::string("2024-06-02")));
    consult("referred", "Зейнетақы тағайындау", false);
}

// The rows of `caravan export journal --format json`, without the lawyer's device-specific
// numbering.
json journal_rows(const fs::path& db, const fs::path& dir) {
    fs::path out = dir / "again.json";
    Run r = run_caravan(db, {"export", "journal", "--all", "-o", out.string(), "--lang", "kk"});
    INFO(r.err);
    REQUIRE(r.code == 0);
    std::ifstream in(out);
    json doc = json::parse(in);
    return doc["rows"];
}

void init_fresh(const fs::path& db) {
    Run r = run_caravan(db, {"init", "--lawyer", "Сейітова Әсел", "--region", "Жамбыл обл."});
    INFO(r.err);
    REQUIRE(r.code == 0);
}

json import_json(const fs::path& db, const fs::path& file) {
    Run r = run_caravan(db, {"--json", "import", file.string()});
    INFO(r.err << r.out);
    REQUIRE(r.code == 0);
    return json::parse(r.out);
}

// A workbook written with libxlsxwriter: one sheet per entry of `sheets`, rows of strings;
// a cell "#N" is written as the number N.
void write_book(const fs::path& file,
                const std::vector<std::pair<std::string, std::vector<std::vector<std::string>>>>&
                    sheets) {
    lxw_workbook* book = workbook_new(file.c_str());
    REQUIRE(book);
    for (const auto& [name, rows] : sheets) {
        lxw_worksheet* sheet = workbook_add_worksheet(book, name.c_str());
        for (std::size_t r = 0; r < rows.size(); ++r) {
            for (std::size_t c = 0; c < rows[r].size(); ++c) {
                const std::string& v = rows[r][c];
                auto row = static_cast<lxw_row_t>(r);
                auto col = static_cast<lxw_col_t>(c);
                if (v.starts_with("#")) {
                    worksheet_write_number(sheet, row, col, std::stod(v.substr(1)), nullptr);
                } else if (!v.empty()) {
                    worksheet_write_string(sheet, row, col, v.c_str(), nullptr);
                }
            }
        }
    }
    REQUIRE(workbook_close(book) == LXW_NO_ERROR);
}

// A zip archive with the given entries (name, content), stored as they are.
void write_zip(const fs::path& file, const std::vector<std::pair<std::string, std::string>>& entries) {
    int error = 0;
    zip_t* z = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    REQUIRE(z);
    for (const auto& [name, content] : entries) {
        zip_source_t* s = zip_source_buffer(z, content.data(), content.size(), 0);
        REQUIRE(s);
        REQUIRE(zip_file_add(z, name.c_str(), s, ZIP_FL_OVERWRITE) >= 0);
    }
    REQUIRE(zip_close(z) == 0);
}

const std::string k_rels =
    R"(<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">)"
    R"(<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>)"
    R"(</Relationships>)";
const std::string k_workbook =
    R"(<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">)"
    R"(<sheets><sheet name="J" sheetId="1" r:id="rId1"/></sheets></workbook>)";

} // namespace

TEST_CASE("import xlsx: the journal export imports into a fresh device and exports the same rows",
          "[cli][import][xlsx]") {
    test::TempDir dir;
    fs::path first = dir / "first.db", second = dir / "second.db";
    populate(first);
    for (std::string lang : {"kk", "ru"}) {
        DYNAMIC_SECTION(lang) {
            fs::path book = dir / ("journal-" + lang + ".xlsx");
            Run exported =
                run_caravan(first, {"export", "journal", "--all", "-o", book.string(), "--lang", lang});
            INFO(exported.err);
            REQUIRE(exported.code == 0);
            init_fresh(second);

            json report = import_json(second, book);
            CHECK(report["format"] == "xlsx");
            CHECK(report["rows"] == 3);
            CHECK(report["imported"] == 3);
            CHECK(journal_rows(second, dir.path()) == journal_rows(first, dir.path()));

            json again = import_json(second, book);
            CHECK(again["imported"] == 0);
            CHECK(again["already_present"] == 3);
        }
    }
}

TEST_CASE("import json: the JSON journal export imports back and a second import adds nothing",
          "[cli][import][json]") {
    test::TempDir dir;
    fs::path first = dir / "first.db", second = dir / "second.db";
    populate(first);
    fs::path file = dir / "journal.json";
    Run exported = run_caravan(first, {"export", "journal", "--all", "--format", "json", "-o",
                                   file.string(), "--lang", "ru"});
    INFO(exported.err);
    REQUIRE(exported.code == 0);
    init_fresh(second);

    json report = import_json(second, file);
    CHECK(report["format"] == "json");
    CHECK(report["imported"] == 3);
    CHECK(journal_rows(second, dir.path()) == journal_rows(first, dir.path()));
    json again = import_json(second, file);
    CHECK(again["imported"] == 0);
    CHECK(again["already_present"] == 3);
    // Into the device that wrote it: everything is already there.
    CHECK(import_json(first, file)["already_present"] == 3);
}

TEST_CASE("import xlsx: a hand-made sheet with kk or ru headers imports, dates as day numbers",
          "[cli][import][xlsx]") {
    test::TempDir dir;
    fs::path db = dir / "d.db";
    init_fresh(db);
    fs::path kk = dir / "hand-kk.xlsx";
    // A title row above the header, a blank row, a date typed as a date (a day number: 45426
    // is 2024-05-14), one typed as text, and a first sheet that is not the journal.
    write_book(kk, {{"Түсіндірме", {{"Бұл парақта журнал жоқ"}}},
                    {"Журнал",
                     {{"Кеңестер журналы, 2024"},
                      {},
                      {"күні", "облыс", "ауыл", "жынысы", "жас тобы", "әлеуметтік санаты",
                       "тақырыптар", "нәтижесі", "сұрақтың қысқаша мазмұны"},
                      {"#45426", "Жамбыл обл.", "Ақжар", "әйел", "33-45", "unemployed", "land",
                       "advice", "Жер дауы"},
                      {},
                      {"02.06.2024", "Жамбыл обл.", "Ақжар", "male", "59+", "older",
                       "family;land", "advice", "Алимент"}}}});
    json report = import_json(db, kk);
    CHECK(report["rows"] == 2);
    CHECK(report["imported"] == 2);
    Run list = run_caravan(db, {"--json", "consult", "list"});
    CHECK_THAT(list.out, Catch::Contains("2024-05-14"));
    CHECK_THAT(list.out, Catch::Contains("2024-06-02"));
    CHECK(import_json(db, kk)["already_present"] == 2);

    fs::path ru = dir / "hand-ru.xlsx";
    write_book(ru, {{"Лист1",
                     {{"дата", "область", "село", "пол", "возрастная группа",
                       "социальная категория", "темы", "результат", "требуется продолжение"},
                      {"#45427", "Жамбыл обл.", "Ақжар", "женщина", "33-45", "unemployed", "land",
                       "advice", "да"}}}});
    json report_ru = import_json(db, ru);
    CHECK(report_ru["imported"] == 1);
}

TEST_CASE("import xlsx: a bad row is named by its sheet row and column, and nothing is written",
          "[cli][import][xlsx]") {
    test::TempDir dir;
    fs::path db = dir / "d.db";
    init_fresh(db);
    fs::path file = dir / "bad.xlsx";
    write_book(file, {{"J",
                       {{"date", "region", "village", "gender", "age", "category", "topics",
                         "outcome"},
                        {"2024-05-14", "R", "V", "female", "33-45", "unemployed", "land",
                         "advice"},
                        {"2024-05-14", "R", "V", "Асқар Бекұлы", "33-45", "unemployed", "land",
                         "advice"}}}});
    Run r = run_caravan(db, {"import", file.string()});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("3: gender: "));
    CHECK_THAT(r.err, !Catch::Contains("Асқар"));
    Run list = run_caravan(db, {"--json", "consult", "list"});
    INFO(list.out);
    CHECK(list.out.find("2024-05-14") == std::string::npos);
}

TEST_CASE("import xlsx: damaged and hostile workbooks are refused with exit 2, naming the file",
          "[cli][import][xlsx]") {
    test::TempDir dir;
    fs::path db = dir / "d.db";
    init_fresh(db);
    const std::string secret = "Асқар Бекұлы";
    const std::string sheet_xml =
        R"(<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>)"
        R"(<row r="1"><c r="A1" t="inlineStr"><is><t>)" +
        secret + R"(</t></is></c></row></sheetData></worksheet>)";

    struct Case {
        std::string name;
        std::function<void(const fs::path&)> make;
        std::string expect; // in the English message
    };
    std::vector<Case> cases = {
        {"not-a-zip.xlsx",
         [&](const fs::path& f) { std::ofstream(f, std::ios::binary) << "date,region\n" << secret; },
         "not a zip archive"},
        {"truncated.xlsx",
         [&](const fs::path& f) { std::ofstream(f, std::ios::binary) << "PK\x03\x04" << secret; },
         "not a zip archive"},
        {"no-sheet.xlsx",
         [&](const fs::path& f) { write_zip(f, {{"docProps/app.xml", "<x>" + secret + "</x>"}}); },
         "is missing"},
        {"no-sheet-part.xlsx",
         [&](const fs::path& f) {
             write_zip(f, {{"xl/workbook.xml", k_workbook}, {"xl/_rels/workbook.xml.rels", k_rels}});
         },
         "is missing"},
        {"bad-xml.xlsx",
         [&](const fs::path& f) {
             write_zip(f, {{"xl/workbook.xml", k_workbook},
                           {"xl/_rels/workbook.xml.rels", k_rels},
                           {"xl/worksheets/sheet1.xml", sheet_xml.substr(0, sheet_xml.size() - 30)}});
         },
         "not well-formed XML"},
        {"entities.xlsx",
         [&](const fs::path& f) {
             std::string bomb = R"(<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a ")" + secret +
                                R"("><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><worksheet><sheetData>)"
                                R"(<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row>)"
                                R"(</sheetData></worksheet>)";
             write_zip(f, {{"xl/workbook.xml", k_workbook},
                           {"xl/_rels/workbook.xml.rels", k_rels},
                           {"xl/worksheets/sheet1.xml", bomb}});
         },
         "DOCTYPE"},
        {"bad-shared-string.xlsx",
         [&](const fs::path& f) {
             write_zip(f, {{"xl/workbook.xml", k_workbook},
                           {"xl/_rels/workbook.xml.rels", k_rels},
                           {"xl/worksheets/sheet1.xml",
                            R"(<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>7</v></c></row></sheetData></worksheet>)"}});
         },
         "invalid reference or value"},
    };
    for (const Case& c : cases) {
        DYNAMIC_SECTION(c.name) {
            fs::path file = dir / c.name;
            c.make(file);
            for (bool binary : {false, true}) {
                Run r = binary ? caravan_binary(db, {"import", file.string()})
                               : run_caravan(db, {"import", file.string()});
                INFO(r.err);
                CHECK(r.code == 2);
                CHECK_THAT(r.err, Catch::Contains(c.name));
                CHECK_THAT(r.err, Catch::Contains(c.expect));
                CHECK_THAT(r.err, !Catch::Contains(secret));
                CHECK_THAT(r.err, !Catch::Contains("required columns"));
            }
        }
    }
}

TEST_CASE("xlsx reader: declared sizes and entry counts are checked before anything is read",
          "[client][import][xlsx]") {
    test::TempDir dir;
    // A sheet of 3 MB of zeros compresses to a few kilobytes: a small zip bomb.
    std::string big = R"(<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>)" +
                      std::string(3 << 20, '0') + "</t></is></c></row></sheetData></worksheet>";
    fs::path bomb = dir / "bomb.xlsx";
    int error = 0;
    zip_t* z = zip_open(bomb.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
    REQUIRE(z);
    for (auto [name, content] : std::vector<std::pair<std::string, const std::string*>>{
             {"xl/workbook.xml", &k_workbook},
             {"xl/_rels/workbook.xml.rels", &k_rels},
             {"xl/worksheets/sheet1.xml", &big}}) {
        zip_source_t* s = zip_source_buffer(z, content->data(), content->size(), 0);
        REQUIRE(zip_file_add(z, name.c_str(), s, 0) >= 0);
    }
    REQUIRE(zip_close(z) == 0);
    CHECK(fs::file_size(bomb) < 100'000);

    client::XlsxLimits limits;
    limits.max_part_bytes = 1 << 20;
    auto reader = client::XlsxReader::open(bomb, limits);
    REQUIRE(reader);
    auto selected = reader->select_sheet(0);
    REQUIRE_FALSE(selected);
    CHECK_THAT(selected.error().message, Catch::Contains("unpacks to 3"));
    CHECK_THAT(selected.error().message, Catch::Contains("bomb.xlsx"));

    client::XlsxLimits total;
    total.max_total_bytes = 2 << 20;
    auto reader2 = client::XlsxReader::open(bomb, total);
    REQUIRE(reader2);
    auto selected2 = reader2->select_sheet(0);
    REQUIRE_FALSE(selected2);
    CHECK_THAT(selected2.error().message, Catch::Contains("more than"));

    client::XlsxLimits entries;
    entries.max_entries = 2;
    auto reader3 = client::XlsxReader::open(bomb, entries);
    REQUIRE_FALSE(reader3);
    CHECK_THAT(reader3.error().message, Catch::Contains("3 entries"));
}

TEST_CASE("xlsx reader: Excel day numbers become dates", "[client][import][xlsx]") {
    CHECK(client::excel_serial_to_date(1) == "1900-01-01");
    CHECK(client::excel_serial_to_date(59) == "1900-02-28");
    CHECK(client::excel_serial_to_date(61) == "1900-03-01");
    CHECK(client::excel_serial_to_date(45426) == "2024-05-14");
    CHECK(client::excel_serial_to_date(45426.5).empty());
    CHECK(client::excel_serial_to_date(-3).empty());
}
