#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;

namespace {

const std::filesystem::path k_fixtures =
    std::filesystem::path(CARAVAN_SOURCE_DIR) / "tests" / "fixtures" / "import";

struct Run {
    int code = -1;
    std::string out, err;
};

// `caravan --db DB ARGS...`, in this process (the command layer) or as the real binary.
Run caravan_run(bool binary, const std::filesystem::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.string()});
    if (binary) {
        args.insert(args.begin(), test::binary("caravan").string());
        auto r = test::run_process(args);
        return {r.exit_code, r.out, r.err};
    }
    std::ostringstream out, err;
    int code = cli::run(args, out, err);
    return {code, out.str(), err.str()};
}

// Exactly one JSON document on stdout.
nlohmann::json one_document(const std::string& out) {
    std::istringstream in(out);
    nlohmann::json doc;
    in >> doc;
    in >> std::ws;
    CHECK(in.peek() == std::char_traits<char>::eof());
    return doc;
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

} // namespace

TEST_CASE("cli import: --json prints one report document with the counts", "[cli][import]") {
    for (bool binary : {false, true}) {
        DYNAMIC_SECTION((binary ? "binary" : "in-process")) {
            test::TempDir dir;
            auto db = dir / "d.db";
            REQUIRE(
                caravan_run(binary, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."})
                    .code == 0);
            auto first = caravan_run(
                binary, db, {"--json", "import", (k_fixtures / "journal_kk.csv").string()});
            INFO(first.err);
            REQUIRE(first.code == 0);
            auto doc = one_document(first.out);
            CHECK(doc["ok"] == true);
            CHECK(doc["rows"] == 4);
            CHECK(doc["imported"] == 4);
            CHECK(doc["already_present"] == 0);
            CHECK(doc["villages_created"] == 2);
            CHECK(doc["visits_created"] == 2);
            CHECK(doc["errors"].empty());

            auto again = caravan_run(
                binary, db, {"import", (k_fixtures / "journal_kk.csv").string(), "--json"});
            REQUIRE(again.code == 0);
            auto doc2 = one_document(again.out);
            CHECK(doc2["imported"] == 0);
            CHECK(doc2["already_present"] == 4);

            auto list = caravan_run(binary, db, {"consult", "list", "--json"});
            CHECK(one_document(list.out).size() == 4);
        }
    }
}

TEST_CASE("cli import: bad rows exit 2, list LINE: column: reason, and write nothing",
          "[cli][import]") {
    for (bool binary : {false, true}) {
        DYNAMIC_SECTION((binary ? "binary" : "in-process")) {
            test::TempDir dir;
            auto db = dir / "d.db";
            REQUIRE(caravan_run(binary, db, {"init", "--lawyer", "Арнат", "--region", "R"}).code ==
                    0);
            auto file = dir / "bad.csv";
            write_file(file, "date,region,village,gender,age,category,topics,outcome,question\n"
                             "2024-05-14,R,V,male,59+,older,land,advice,fine\n"
                             "2024-05-14,R,V,Асқар Бекұлы,59+,older,land,advice,x\n"
                             "31.02.2024,R,V,male,59+,older,land,advice,x\n");

            auto human = caravan_run(binary, db, {"import", file.string()});
            CHECK(human.code == 2);
            CHECK_THAT(human.err, Catch::Contains("3: gender: "));
            CHECK_THAT(human.err, Catch::Contains("4: date: "));
            CHECK_THAT(human.err, Catch::Contains("nothing was imported"));
            CHECK_THAT(human.err, !Catch::Contains("Асқар")); // cell content is never echoed

            auto json = caravan_run(binary, db, {"--json", "import", file.string()});
            CHECK(json.code == 2);
            auto doc = one_document(json.out);
            CHECK(doc["ok"] == false);
            CHECK(doc["imported"] == 0);
            REQUIRE(doc["errors"].size() == 2);
            CHECK(doc["errors"][0]["line"] == 3);
            CHECK(doc["errors"][0]["column"] == "gender");
            CHECK(doc["errors"][1]["line"] == 4);
            CHECK(doc["errors"][1]["column"] == "date");
            CHECK_THAT(json.out, !Catch::Contains("Асқар"));

            auto status = caravan_run(binary, db, {"--json", "status"});
            auto st = one_document(status.out);
            CHECK(st["consultations"] == 0);
            CHECK(st["villages"] == 0);
        }
    }
}

TEST_CASE("cli import: --dry-run reports what would be written and writes nothing",
          "[cli][import]") {
    test::TempDir dir;
    auto db = dir / "d.db";
    REQUIRE(caravan_run(true, db, {"init", "--lawyer", "Арнат", "--region", "R"}).code == 0);
    auto before = one_document(caravan_run(true, db, {"--json", "status"}).out);
    auto dry =
        caravan_run(true, db, {"import", "--dry-run", (k_fixtures / "journal_ru.jsonl").string()});
    INFO(dry.err);
    REQUIRE(dry.code == 0);
    CHECK_THAT(dry.out, Catch::Contains("dry run"));
    CHECK_THAT(dry.out, Catch::Contains("would be imported: 3"));
    CHECK_THAT(dry.out, Catch::Contains("Қарауыл (Абай обл.)"));
    auto after = one_document(caravan_run(true, db, {"--json", "status"}).out);
    CHECK(after["events"] == before["events"]);
}

TEST_CASE("cli import: a missing file or an uninitialised device fails with one line",
          "[cli][import]") {
    test::TempDir dir;
    auto db = dir / "d.db";
    auto fresh = caravan_run(true, db, {"import", (k_fixtures / "journal_kk.csv").string()});
    CHECK(fresh.code == 2);
    CHECK_THAT(fresh.err, Catch::Contains("init"));
    REQUIRE(caravan_run(true, db, {"init", "--lawyer", "Арнат", "--region", "R"}).code == 0);
    auto missing = caravan_run(true, db, {"--json", "import", (dir / "nope.csv").string()});
    CHECK(missing.code == 2);
    auto doc = one_document(missing.out);
    CHECK(doc["error"]["code"] == "not_found");
}

TEST_CASE("cli import: a journal exported in kk, ru or en re-imports as the same records",
          "[cli][import]") {
    test::TempDir dir;
    auto db = dir / "d.db";
    REQUIRE(caravan_run(true, db, {"init", "--lawyer", "Арнат", "--region", "R"}).code == 0);
    REQUIRE(caravan_run(true, db, {"import", (k_fixtures / "journal_kk.csv").string()}).code == 0);
    REQUIRE(caravan_run(true, db, {"import", (k_fixtures / "journal_ru.jsonl").string()}).code ==
            0);
    const std::string listed = caravan_run(true, db, {"consult", "list", "--json"}).out;
    for (std::string lang : {"kk", "ru", "en"}) {
        DYNAMIC_SECTION("export in " << lang) {
            auto file = dir / ("journal-" + lang + ".csv");
            auto exported = caravan_run(
                true, db, {"--lang", lang, "export", "journal", "--all", "-o", file.string()});
            INFO(exported.err);
            REQUIRE(exported.code == 0);
            // Here: every row is already present.
            auto again = caravan_run(true, db, {"--json", "import", file.string()});
            INFO(again.err);
            REQUIRE(again.code == 0);
            auto doc = one_document(again.out);
            CHECK(doc["rows"] == 7);
            CHECK(doc["already_present"] == 7);
            CHECK(doc["imported"] == 0);
            // On another device: the same consultations, visits and villages (ids included).
            auto other = dir / ("other-" + lang + ".db");
            REQUIRE(caravan_run(true, other, {"init", "--lawyer", "Дина", "--region", "R"}).code ==
                    0);
            auto fresh = caravan_run(true, other, {"--json", "import", file.string()});
            INFO(fresh.err);
            REQUIRE(fresh.code == 0);
            CHECK(one_document(fresh.out)["imported"] == 7);
            CHECK(caravan_run(true, other, {"consult", "list", "--json"}).out == listed);
        }
    }
}
