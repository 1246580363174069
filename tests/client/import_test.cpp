#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "caravan/client/engine.hpp"
#include "caravan/client/import.hpp"
#include "must.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

const std::filesystem::path k_fixtures =
    std::filesystem::path(CARAVAN_SOURCE_DIR) / "tests" / "fixtures" / "import";

// A device database initialised for lawyer "Арнат".
struct ImportDevice {
    test::TempDir dir;
    Engine engine = must(Engine::open(dir / "device.db"));
    ImportDevice() { must(engine.init("Арнат", "Жамбыл обл.")); }

    std::filesystem::path write(const std::string& name, const std::string& bytes) {
        std::ofstream out(dir / name, std::ios::binary);
        out << bytes;
        return dir / name;
    }
    ImportReport import(const std::filesystem::path& file, bool dry_run = false) {
        ImportOptions options;
        options.dry_run = dry_run;
        return must(import_journal(engine, file, options));
    }
    std::int64_t events() { return must(engine.status()).events; }
    std::vector<Consultation> consultations() {
        std::vector<Consultation> out;
        REQUIRE(engine.list_consultations({}, [&](const Consultation& c) {
            out.push_back(c);
            return true;
        }));
        return out;
    }
    // The consultations by their question (the tests give each a distinct one).
    std::map<std::string, Consultation> by_question() {
        std::map<std::string, Consultation> out;
        for (const Consultation& c : consultations()) {
            out.emplace(c.question, c);
        }
        return out;
    }
};

std::string errors_text(const ImportReport& r) {
    std::string out;
    for (const ImportIssue& e : r.errors) {
        out += to_string(e) + "\n";
    }
    return out;
}

const ImportIssue* issue_at(const ImportReport& r, std::int64_t line, std::string_view column) {
    for (const ImportIssue& e : r.errors) {
        if (e.line == line && e.column == column) {
            return &e;
        }
    }
    return nullptr;
}

const std::string k_header = "date,region,village,gender,age,category,topics,outcome,question\n";

} // namespace

// ---- happy paths ----------------------------------------------------------------------------

TEST_CASE("import: a Kazakh CSV journal (BOM, CRLF, quoted fields, labels) is recorded",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(k_fixtures / "journal_kk.csv");
    INFO(errors_text(r));
    REQUIRE(r.ok());
    CHECK(r.format == ImportFormat::csv);
    CHECK(r.rows == 4);
    CHECK(r.imported == 4);
    CHECK(r.already_present == 0);
    CHECK(r.villages_created == 2); // Қызылжар (rows 1-3, any case), Бестамақ
    CHECK(r.visits_created == 2); // (Қызылжар, 2024-05-14, Арнат), (Бестамақ, 05-15, Дина)
    REQUIRE(r.new_villages.size() == 2);
    CHECK(r.new_villages[0].name == "Қызылжар");
    CHECK(r.new_villages[0].region == "Ақтөбе обл.");

    auto rows = d.by_question();
    REQUIRE(rows.size() == 4);
    const Consultation& first = rows.at("Жер телімі, мұрагерлік");
    CHECK(first.date == "2024-05-14");
    CHECK(first.village == "Қызылжар");
    CHECK(first.region == "Ақтөбе обл.");
    CHECK(first.lawyer == "Арнат"); // empty cell: the device's lawyer
    CHECK(first.person.gender == "male");
    CHECK(first.person.age == "59+");
    CHECK(first.person.category == "older");
    CHECK(first.person.vulnerable == true);
    CHECK(first.topics == std::vector<std::string>{"land", "inheritance"});
    CHECK(first.outcome == "advice");
    CHECK(first.advice == "Нотариусқа бару");
    CHECK_FALSE(first.follow_up);
    CHECK(first.lang == std::optional<std::string>("kk"));

    const Consultation& quoted = rows.at("Алимент туралы \"сот\" шешімі");
    CHECK(quoted.advice == "Өтініш жазу,\nсотқа беру"); // CRLF inside quotes kept as a line break
    CHECK(quoted.person.age == "33-45");
    CHECK(quoted.outcome == "document");
    CHECK(quoted.follow_up);

    const Consultation& bare = rows.at("");
    CHECK(bare.date == "2024-05-14"); // written 14.05.2024
    CHECK(bare.visit_id == first.visit_id);
    CHECK(bare.person.gender == "unrecorded");
    CHECK(bare.person.age == "unrecorded");
    CHECK(bare.person.category == "unrecorded");
    CHECK(bare.topics == std::vector<std::string>{"housing"});
    CHECK(bare.outcome == "referred");
    CHECK_FALSE(bare.lang);

    const Consultation& other = rows.at("Жалақы берілмеді");
    CHECK(other.village == "Бестамақ");
    CHECK(other.lawyer == "Дина Серікова");
    CHECK(other.topics == std::vector<std::string>{"labour", "collectors"});
    CHECK(other.outcome == "case");
    CHECK(other.lang == std::optional<std::string>("ru"));
    CHECK(other.visit_id != first.visit_id);

    auto visits = must(d.engine.list_visits());
    REQUIRE(visits.size() == 2);
    for (const Visit& v : visits) {
        CHECK(v.closed);
    }
    CHECK(visits[1].lawyer == "Дина Серікова");
    CHECK_FALSE(must(d.engine.current_visit()));
    auto villages = must(d.engine.list_villages());
    REQUIRE(villages.size() == 2);
    CHECK(villages[1].name == "Қызылжар");
    CHECK(villages[1].district == std::optional<std::string>("Мұғалжар ауданы"));
}

TEST_CASE("import: JSON Lines with Russian labels, ids and lists are recorded",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(k_fixtures / "journal_ru.jsonl");
    INFO(errors_text(r));
    REQUIRE(r.ok());
    CHECK(r.format == ImportFormat::jsonl);
    CHECK(r.rows == 3); // the blank line is not a row
    CHECK(r.imported == 3);
    CHECK(r.villages_created == 2);
    CHECK(r.visits_created == 2); // rows 1 and 2: same village, day and lawyer

    auto with_id = must(d.engine.find_consultation("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
    CHECK(with_id.person.gender == "male");
    CHECK(with_id.person.age == "28-32");
    CHECK(with_id.person.category == "business");
    CHECK(with_id.topics == std::vector<std::string>{"tax", "consumer"});
    CHECK(with_id.outcome == "document");
    CHECK(with_id.follow_up);
    CHECK(with_id.lang == std::optional<std::string>("ru"));

    auto rows = d.by_question();
    const Consultation& first = rows.at("Пособие по инвалидности");
    CHECK(first.person.gender == "female");
    CHECK(first.person.category == "disability");
    CHECK(first.person.vulnerable == true); // JSON true
    CHECK(first.topics == std::vector<std::string>{"benefits", "health"});
    CHECK(first.outcome == "advice");
    CHECK_FALSE(first.follow_up); // "нет"
    CHECK(first.visit_id == with_id.visit_id);
}

TEST_CASE("import: a semicolon-separated Russian CSV with DD.MM.YYYY dates is recorded",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(k_fixtures / "journal_ru_semicolon.csv");
    INFO(errors_text(r));
    REQUIRE(r.ok());
    CHECK(r.imported == 2);
    auto rows = d.by_question();
    const Consultation& c = rows.at("Развод; раздел имущества"); // ';' inside quotes is text
    CHECK(c.date == "2024-06-02");
    CHECK(c.topics == std::vector<std::string>{"family", "domestic-violence"});
    CHECK(c.outcome == "case");
}

TEST_CASE("import: RFC 4180 quoting: separators, doubled quotes, line breaks, empty fields",
          "[client][import]") {
    ImportDevice d;
    std::string csv = k_header +
                      "2024-05-14,R,V,male,59+,older,land,advice,\"a, b\"\r\n"            // 2
                      "2024-05-14,R,V,male,59+,older,land,advice,\"say \"\"hi\"\"\"\r\n"  // 3
                      "2024-05-14,R,V,male,59+,older,land,advice,\"one\ntwo\r\nthree\"\n" // 4-6
                      "\n"                                                                // 7
                      "2024-05-14,R,V,male,59+,older,land,advice,\"\"\n"                  // 8
                      "2024-05-14,R,V,\"\",\"59+\",older,\"land\",advice,x\"y\n"          // 9
                      "2024-05-14,R,V,male,59+,older,land,advice,last";                   // 10
    ImportReport r = d.import(d.write("quoting.csv", csv));
    INFO(errors_text(r));
    REQUIRE(r.ok());
    CHECK(r.rows == 6);
    auto rows = d.by_question();
    CHECK(rows.count("a, b") == 1);
    CHECK(rows.count("say \"hi\"") == 1);
    CHECK(rows.count("one\ntwo\nthree") == 1);
    CHECK(rows.count("") == 1);
    CHECK(rows.count("x\"y") == 1); // a quote inside an unquoted field is text
    CHECK(rows.count("last") == 1); // no line break at the end of the file
    CHECK(rows.at("x\"y").person.gender == "unrecorded");

    // Line numbers count physical lines: a record spanning lines 4-6 moves the next ones down.
    ImportDevice e;
    std::string bad = k_header +
                      "2024-05-14,R,V,male,59+,older,land,advice,\"one\ntwo\r\nthree\"\n" // 2-4
                      "2024-05-14,R,V,nobody,59+,older,land,advice,x\n";                  // 5
    ImportReport br = e.import(e.write("lines.csv", bad));
    REQUIRE(br.errors.size() == 1);
    CHECK(br.errors[0].line == 5);
    CHECK(br.errors[0].column == "gender");
}

TEST_CASE("import: a UTF-8 BOM before the header is skipped in CSV and JSON Lines",
          "[client][import]") {
    ImportDevice d;
    ImportReport csv = d.import(
        d.write("bom.csv", "\xEF\xBB\xBF" + k_header + "2024-05-14,R,V,,,,land,advice,bom\n"));
    INFO(errors_text(csv));
    CHECK(csv.ok());
    CHECK(csv.imported == 1);
    ImportReport jsonl = d.import(d.write(
        "bom.jsonl", "\xEF\xBB\xBF{\"date\":\"2024-05-14\",\"region\":\"R\",\"village\":\"V\","
                     "\"gender\":\"\",\"age\":\"\",\"category\":\"\",\"topics\":\"land\","
                     "\"outcome\":\"advice\",\"question\":\"bom jsonl\"}\n"));
    INFO(errors_text(jsonl));
    CHECK(jsonl.ok());
    CHECK(jsonl.imported == 1);
}

TEST_CASE("import: the format is taken from the content when the extension says nothing",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(d.write("journal.txt",
                                      "{\"date\":\"2024-05-14\",\"region\":\"R\",\"village\":\"V\","
                                      "\"gender\":\"male\",\"age\":\"59+\",\"category\":\"older\","
                                      "\"topics\":[\"land\"],\"outcome\":\"advice\"}\n"));
    INFO(errors_text(r));
    CHECK(r.ok());
    CHECK(r.format == ImportFormat::jsonl);
    ImportReport c =
        d.import(d.write("journal.txt2", k_header + "2024-05-14,R,V,,,,land,advice,q\n"));
    CHECK(c.ok());
    CHECK(c.format == ImportFormat::csv);
}

// ---- errors ---------------------------------------------------------------------------------

TEST_CASE("import: unknown headers are named, with the line of the header", "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(d.write(
        "h.csv", "\n" + std::string("date,region,village,gender,age,category,topics,outcome,"
                                    "colour,дата рождения\n2024-05-14,R,V,,,,land,advice,x,y\n")));
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].line == 2);
    CHECK(r.errors[0].column == "header");
    CHECK_THAT(r.errors[0].message, Catch::Contains("'colour'"));
    CHECK_THAT(r.errors[1].message, Catch::Contains("'дата рождения'"));
    CHECK(d.consultations().empty());
}

TEST_CASE("import: a missing required column is an error naming it", "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(d.write("m.csv", "date,region,village,gender,age,topics,outcome\n"
                                               "2024-05-14,R,V,male,59+,land,advice\n"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 1);
    CHECK(r.errors[0].column == "header");
    CHECK_THAT(r.errors[0].message, Catch::Contains("'category'"));

    ImportReport dup = d.import(
        d.write("dup.csv", "date,дата,region,village,gender,age,category,topics,outcome\n"));
    REQUIRE(dup.errors.size() == 1);
    CHECK_THAT(dup.errors[0].message, Catch::Contains("columns 1 and 2"));
}

TEST_CASE("import: every bad row is reported with its line and column, nothing is written",
          "[client][import]") {
    ImportDevice d;
    std::int64_t before = d.events();
    std::string csv = k_header + "2024-05-14,R,V,male,59+,older,land,advice,good\n"             // 2
                                 "2024-02-30,R,V,male,59+,older,land,advice,bad date\n"         // 3
                                 "2024-05-14,R,V,Айгүл Сейітова,59+,older,land,advice,x\n"      // 4
                                 "2024-05-14,R,V,male,60+,older,land;taxes;moon,advice,x\n"     // 5
                                 "2024-05-14,R,V,male,59+,older,land,advice\n"                  // 6
                                 "2024-05-14,R,V,male,59+,older,land,advice,\"bad \xC3\x28\"\n" // 7
                                 "2024-05-14,,V,male,59+,older,,,x\n"                           // 8
                                 "2024-05-14,R,V,male,59+,older,land,shrug,x,extra\n"           // 9
                                 "2024-05-14,R,V,male,59+,older,land,advice,\"a\"b\n"    // 10
                                 "2024-05-14,R,V,male,59+,older,land,advice,good too\n"; // 11
    ImportReport r = d.import(d.write("bad.csv", csv));
    INFO(errors_text(r));
    REQUIRE_FALSE(r.ok());
    CHECK(r.rows == 10);
    CHECK(r.imported == 0);
    CHECK(issue_at(r, 3, "date"));
    CHECK(issue_at(r, 4, "gender"));
    CHECK(issue_at(r, 5, "age"));
    REQUIRE(issue_at(r, 5, "topics"));
    CHECK_THAT(issue_at(r, 5, "topics")->message, Catch::Contains("item 3"));
    CHECK(issue_at(r, 6, "row"));      // 8 fields, header has 9
    CHECK(issue_at(r, 7, "question")); // not UTF-8
    CHECK(issue_at(r, 8, "region"));
    CHECK(issue_at(r, 8, "topics"));
    CHECK(issue_at(r, 8, "outcome"));
    CHECK(issue_at(r, 9, "row"));  // 10 fields
    CHECK(issue_at(r, 10, "row")); // text after a closing quote
    CHECK(r.errors.size() == 11);
    CHECK_FALSE(issue_at(r, 2, "row"));
    CHECK_FALSE(issue_at(r, 11, "row"));
    // Cell content is never echoed: it may be personal data.
    for (const ImportIssue& e : r.errors) {
        CHECK_THAT(e.message, !Catch::Contains("Айгүл"));
        CHECK_THAT(e.message, !Catch::Contains("moon"));
        CHECK_THAT(e.message, !Catch::Contains("shrug"));
        CHECK_THAT(e.message, !Catch::Contains("60+"));
    }
    CHECK(d.events() == before);
    CHECK(d.consultations().empty());
    CHECK(must(d.engine.list_villages()).empty());
}

TEST_CASE("import: an unclosed quote is reported at the line where its record starts",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(
        d.write("q.csv", k_header + "2024-05-14,R,V,male,59+,older,land,advice,ok\n"
                                    "2024-05-14,R,V,male,59+,older,land,advice,\"never closed\n"
                                    "2024-05-14,R,V,male,59+,older,land,advice,ok\n"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 3);
    CHECK(r.errors[0].column == "row");
    CHECK_THAT(r.errors[0].message, Catch::Contains("not closed"));
}

TEST_CASE("import: an empty file is an error", "[client][import]") {
    ImportDevice d;
    for (const std::string& content :
         {std::string(), std::string("\xEF\xBB\xBF"), std::string("\r\n\n  \n")}) {
        ImportReport csv = d.import(d.write("empty.csv", content));
        REQUIRE(csv.errors.size() == 1);
        CHECK(csv.errors[0].column == "file");
        CHECK(csv.errors[0].line >= 1);
        ImportReport jsonl = d.import(d.write("empty.jsonl", content));
        REQUIRE(jsonl.errors.size() == 1);
        CHECK(jsonl.errors[0].column == "file");
    }
    // A header and no rows is not an error: nothing to import.
    ImportReport header_only = d.import(d.write("header.csv", k_header));
    CHECK(header_only.ok());
    CHECK(header_only.rows == 0);
}

TEST_CASE("import: a UTF-16 or non-UTF-8 file is refused with a hint", "[client][import]") {
    ImportDevice d;
    ImportReport utf16 = d.import(d.write("u16.csv", std::string("\xFF\xFE"
                                                                 "d\0a\0",
                                                                 6)));
    REQUIRE(utf16.errors.size() == 1);
    CHECK_THAT(utf16.errors[0].message, Catch::Contains("UTF-8"));
    // Windows-1251 header "дата": bytes that are not UTF-8.
    ImportReport cp1251 = d.import(d.write(
        "cp1251.csv", "\xE4\xE0\xF2\xE0,region,village,gender,age,category,topics,outcome\n"));
    REQUIRE_FALSE(cp1251.ok());
    CHECK(cp1251.errors[0].column == "header");
    CHECK_THAT(cp1251.errors[0].message, Catch::Contains("UTF-8"));
}

TEST_CASE("import: JSON Lines errors: syntax, unknown keys, missing keys, wrong types, bytes",
          "[client][import]") {
    ImportDevice d;
    std::string good = R"({"date":"2024-05-14","region":"R","village":"V","gender":"male",)"
                       R"("age":"59+","category":"older","topics":"land","outcome":"advice"})";
    std::string jsonl =
        good + "\n" +                    // 1
        "{\"date\": \"2024-05-14\",\n" + // 2
        R"({"date":"2024-05-14","region":"R","village":"V","gender":"male","age":"59+","category":"older","topics":"land","outcome":"advice","mood":"x"})" +
        "\n" + // 3
        R"({"date":"2024-05-14","region":"R","village":"V","gender":"male","topics":"land","outcome":"advice"})" +
        "\n" + // 4
        R"({"date":"2024-05-14","region":"R","village":"V","gender":{"a":1},"age":"59+","category":"older","topics":"land","outcome":"advice"})" +
        "\n" +                                                // 5
        "{\"date\":\"2024-05-14\",\"question\":\"\xFF\"}\n" + // 6
        "[1,2]\n" +                                           // 7
        good + "\n";                                          // 8
    std::int64_t before = d.events();
    ImportReport r = d.import(d.write("bad.jsonl", jsonl));
    INFO(errors_text(r));
    CHECK(r.rows == 8);
    CHECK(issue_at(r, 2, "row"));
    REQUIRE(issue_at(r, 3, "row"));
    CHECK_THAT(issue_at(r, 3, "row")->message, Catch::Contains("'mood'"));
    CHECK(issue_at(r, 4, "age"));
    CHECK(issue_at(r, 4, "category"));
    CHECK(issue_at(r, 5, "gender"));
    REQUIRE(issue_at(r, 6, "row"));
    CHECK_THAT(issue_at(r, 6, "row")->message, Catch::Contains("UTF-8"));
    CHECK(issue_at(r, 7, "row"));
    CHECK_FALSE(issue_at(r, 1, "row"));
    CHECK_FALSE(issue_at(r, 8, "row"));
    CHECK(d.events() == before);
}

TEST_CASE("import: an id given twice in one file is an error", "[client][import]") {
    ImportDevice d;
    std::string header = "id,date,region,village,gender,age,category,topics,outcome\n";
    ImportReport r = d.import(d.write(
        "ids.csv", header + "0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B,2024-05-14,R,V,,,,land,advice\n"
                            "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b,2024-05-14,R,V,,,,land,advice\n"
                            "not-an-id,2024-05-14,R,V,,,,land,advice\n"));
    INFO(errors_text(r));
    REQUIRE(issue_at(r, 3, "id"));
    CHECK_THAT(issue_at(r, 3, "id")->message, Catch::Contains("line 2"));
    CHECK(issue_at(r, 4, "id"));
    CHECK(r.errors.size() == 2);
}

// ---- all or nothing, idempotence, dry run ---------------------------------------------------

TEST_CASE("import: one bad row among good ones writes nothing", "[client][import]") {
    ImportDevice d;
    std::string csv = k_header;
    for (int i = 0; i < 50; ++i) {
        csv += "2024-05-14,R,V" + std::to_string(i % 3) + ",male,59+,older,land,advice,q" +
               std::to_string(i) + "\n";
    }
    csv += "2024-05-14,R,V,male,59+,older,land,advise,typo\n"; // line 52
    std::int64_t before = d.events();
    ImportReport r = d.import(d.write("one-bad.csv", csv));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 52);
    CHECK(r.errors[0].column == "outcome");
    CHECK(r.imported == 0);
    CHECK(r.villages_created == 0);
    CHECK(d.events() == before);
    CHECK(must(d.engine.status()).consultations == 0);
    CHECK(must(d.engine.status()).villages == 0);
}

TEST_CASE("import: importing the same file twice adds nothing the second time",
          "[client][import]") {
    ImportDevice d;
    auto file = k_fixtures / "journal_kk.csv";
    ImportReport first = d.import(file);
    REQUIRE(first.ok());
    std::int64_t after_first = d.events();
    auto fingerprint = must(d.engine.fingerprint());

    ImportReport second = d.import(file);
    REQUIRE(second.ok());
    CHECK(second.rows == 4);
    CHECK(second.imported == 0);
    CHECK(second.already_present == 4);
    CHECK(second.villages_created == 0);
    CHECK(second.visits_created == 0);
    CHECK(d.events() == after_first);
    CHECK(must(d.engine.fingerprint()) == fingerprint);

    // A deleted consultation is not brought back by importing again.
    auto victim = d.consultations().front();
    must(d.engine.remove_consultation(victim.id));
    ImportReport third = d.import(file);
    CHECK(third.imported == 0);
    CHECK(third.already_present == 4);
    CHECK(d.consultations().size() == 3);
}

TEST_CASE("import: the same rows spelled with codes in JSON Lines are already present",
          "[client][import]") {
    ImportDevice d;
    REQUIRE(d.import(d.write("labels.csv", "күні,облыс,ауыл,жынысы,жас тобы,әлеуметтік санаты,"
                                           "тақырыптар,нәтижесі\n"
                                           "14.05.2024,Ақтөбе обл.,Қызылжар,ер,59+,"
                                           "жастар,жер; отбасы,кеңес берілді\n"))
                .imported == 1);
    ImportReport again = d.import(
        d.write("codes.jsonl",
                R"({"date":"2024-05-14","region":"ақтөбе обл.","village":"ҚЫЗЫЛЖАР",)"
                R"("gender":"male","age":"59+","category":"youth","topics":["land","family"],)"
                R"("outcome":"advice","lawyer":"арнат"})"
                "\n"));
    INFO(errors_text(again));
    CHECK(again.imported == 0);
    CHECK(again.already_present == 1);
}

TEST_CASE("import: identical rows in one file are distinct consultations, stable on re-import",
          "[client][import]") {
    ImportDevice d;
    std::string row = "2024-05-14,R,V,male,59+,older,land,advice,\n";
    auto file = d.write("same.csv", k_header + row + row + row);
    ImportReport first = d.import(file);
    CHECK(first.imported == 3);
    CHECK(d.consultations().size() == 3);
    ImportReport again = d.import(file);
    CHECK(again.imported == 0);
    CHECK(again.already_present == 3);
    // One more copy of the row in a later version of the file: only it is new.
    ImportReport grown = d.import(d.write("same4.csv", k_header + row + row + row + row));
    CHECK(grown.imported == 1);
    CHECK(grown.already_present == 3);
}

TEST_CASE("import: a dry run validates and counts but writes nothing", "[client][import]") {
    ImportDevice d;
    std::int64_t before = d.events();
    ImportReport dry = d.import(k_fixtures / "journal_kk.csv", true);
    REQUIRE(dry.ok());
    CHECK(dry.dry_run);
    CHECK(dry.imported == 4);
    CHECK(dry.villages_created == 2);
    CHECK(dry.visits_created == 2);
    CHECK(d.events() == before);
    CHECK(must(d.engine.list_villages()).empty());

    ImportReport real = d.import(k_fixtures / "journal_kk.csv");
    CHECK(real.imported == dry.imported);
    CHECK(real.villages_created == dry.villages_created);
    CHECK(real.visits_created == dry.visits_created);
    ImportReport dry_again = d.import(k_fixtures / "journal_kk.csv", true);
    CHECK(dry_again.imported == 0);
    CHECK(dry_again.already_present == 4);
}

TEST_CASE("import: rows of an open visit join it and the current visit does not change",
          "[client][import]") {
    ImportDevice d;
    must(d.engine.add_village(
        {"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    Visit open = must(d.engine.start_visit("Қызылжар", std::string("2024-05-14")));
    ImportReport r = d.import(d.write(
        "open.csv", k_header +
                        "2024-05-14,ақтөбе обл.,қызылжар,male,59+,older,land,advice,same day\n"
                        "2024-05-13,Ақтөбе обл.,Қызылжар,male,59+,older,land,advice,day before\n"));
    INFO(errors_text(r));
    REQUIRE(r.ok());
    CHECK(r.villages_created == 0);
    CHECK(r.visits_created == 1);
    auto rows = d.by_question();
    CHECK(rows.at("same day").visit_id == open.id);
    CHECK(rows.at("day before").visit_id != open.id);
    auto current = must(d.engine.current_visit());
    REQUIRE(current);
    CHECK(current->id == open.id);
    CHECK(must(d.engine.find_visit("Қызылжар")).id == open.id); // the only open one
}

TEST_CASE("import: an uninitialised device or a missing file is an error, not a report",
          "[client][import]") {
    test::TempDir dir;
    Engine fresh = must(Engine::open(dir / "fresh.db"));
    auto not_init = import_journal(fresh, k_fixtures / "journal_kk.csv");
    REQUIRE_FALSE(not_init);
    CHECK(not_init.error().code == ErrorCode::not_initialized);

    ImportDevice d;
    auto missing = import_journal(d.engine, d.dir / "nope.csv");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::not_found);
}

TEST_CASE("import: labels match without ё and without parentheses, in any case",
          "[client][import]") {
    ImportDevice d;
    ImportReport r = d.import(
        d.write("loose.csv",
                k_header + "2024-05-14,R,V,МУЖЧИНА,13–16,молодежь,жилье; Бытовое насилие,"
                           "ДАНА КОНСУЛЬТАЦИЯ,a\n"
                           "2024-05-14,R,V,ер,59+,жасы үлкен адамдар 50+,жер,кеңес берілді,b\n"));
    INFO(errors_text(r));
    REQUIRE(r.ok());
    auto rows = d.by_question();
    CHECK(rows.at("a").person.gender == "male");
    CHECK(rows.at("a").person.age == "13-16");
    CHECK(rows.at("a").person.category == "youth");
    CHECK(rows.at("a").topics == std::vector<std::string>{"housing", "domestic-violence"});
    CHECK(rows.at("b").person.category == "older");
}

TEST_CASE("import: a file without its header line is refused without echoing its cells",
          "[client][import]") {
    ImportDevice d;
    ImportReport r =
        d.import(d.write("headerless.csv",
                         "2024-05-14,Ақтөбе обл.,Қызылжар,Айгүл Сейітова,59+,older,land,advice\n"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 1);
    CHECK(r.errors[0].column == "header");
    CHECK_THAT(r.errors[0].message, Catch::Contains("header line"));
    CHECK_THAT(r.errors[0].message, !Catch::Contains("Айгүл"));
    CHECK_THAT(r.errors[0].message, !Catch::Contains("Қызылжар"));

    // A header missing required columns: its unknown fields are given by position only.
    ImportReport partial =
        d.import(d.write("partial.csv", "date,region,village,Айгүл Сейітова,age,category\n"));
    INFO(errors_text(partial));
    CHECK(issue_at(partial, 1, "header"));
    for (const ImportIssue& e : partial.errors) {
        CHECK_THAT(e.message, !Catch::Contains("Айгүл"));
    }
    CHECK(std::any_of(partial.errors.begin(), partial.errors.end(), [](const ImportIssue& e) {
        return e.message.find("column 4 is not a known column name") != std::string::npos;
    }));
    CHECK(std::any_of(partial.errors.begin(), partial.errors.end(), [](const ImportIssue& e) {
        return e.message.find("'gender'") != std::string::npos;
    }));
}

TEST_CASE("import: a write that fails half-way (disk full) leaves nothing behind",
          "[client][import]") {
    ImportDevice d;
    std::string csv = k_header;
    for (int i = 0; i < 2000; ++i) {
        csv += "2024-05-14,R,V" + std::to_string(i % 40) + ",female,33-45,unemployed,land,advice," +
               "question " + std::to_string(i) + "\n";
    }
    auto file = d.write("big.csv", csv);
    std::int64_t before = d.events();
    std::int64_t page_count = 0;
    {
        auto raw = must(storage::Database::open(d.dir / "device.db"));
        auto pages = must(raw.prepare("PRAGMA page_count"));
        REQUIRE(must(pages.step()));
        page_count = pages.column_int(0);
    }
    {
        EngineOptions capped;
        capped.max_page_count = page_count + 40;
        Engine small = must(Engine::open(d.dir / "device.db", capped));
        auto failed = import_journal(small, file);
        REQUIRE_FALSE(failed);
        CHECK(failed.error().code == ErrorCode::storage_full);
    }
    CHECK(d.events() == before);
    CHECK(must(d.engine.list_villages()).empty());
    CHECK(d.consultations().empty());

    ImportReport r = d.import(file);
    CHECK(r.imported == 2000);
    CHECK(r.villages_created == 40);
}
