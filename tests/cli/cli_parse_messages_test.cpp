// What the command line says about words and options it does not know (issue: "Messages that
// mislead"): the unknown word or option is named, free text is not, and a repeated global
// option takes its last value.

#include <catch2/catch.hpp>

#include <sstream>

#include "caravan/client/text.hpp"
#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

// `caravan init` (Арнат, Жамбыл обл.), which must succeed.
void init_device(const std::filesystem::path& db) {
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
}

} // namespace

TEST_CASE("cli: an unknown command is named, at the top and under a command group", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    // Regression: "A subcommand is required".
    auto r = run_cli(Mode::in_process, db, {"frobnicate"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("'frobnicate' is not a command of caravan"));
    r = run_cli(Mode::in_process, db, {"consult", "frob"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("'frob' is not a command of caravan consult"));
    r = run_cli(Mode::in_process, db, {"--lang", "kk", "frobnicate"});
    CHECK_THAT(r.err, Catch::Contains("'frobnicate' — caravan құрамында мұндай команда жоқ"));
    // A group without a command still says a command is needed.
    r = run_cli(Mode::in_process, db, {"--lang", "ru", "consult"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("нужно указать команду"));
}

TEST_CASE("cli: an unknown option is named before any missing required option", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    init_device(db);
    // Regression: "--gender is required", never naming --bogus.
    auto r = run_cli(Mode::in_process, db, {"consult", "add", "--bogus"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("unexpected arguments: --bogus"));
    CHECK_THAT(r.err, !Catch::Contains("required"));
}

TEST_CASE("cli: an extra word is named, free text in the wrong place is only counted", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    init_device(db);
    // Regression: "unexpected arguments: none named (and 1 value, not shown)".
    auto r = run_cli(Mode::in_process, db, {"status", "extra"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("unexpected arguments: extra"));
    r = run_cli(Mode::in_process, db, {"status", "Көршісі Асқаров жер телімін"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("1 value, not shown"));
    CHECK_THAT(r.err, !Catch::Contains("Асқаров"));
}

TEST_CASE("cli: a repeated --lang or --db takes the last value", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    init_device(db);
    // Regression: "--lang: value not given".
    auto r = run_cli(Mode::in_process, db, {"--lang", "ru", "status", "--lang", "kk"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("ауылдар"));
    r = run_cli(Mode::binary, dir / "other.db", {"--db", db.string(), "status"});
    INFO(r.err);
    CHECK(r.code == 0);
}

namespace {

// The character column at which `word` starts on `line` (UTF-8 aware).
size_t column_of(const std::string& line, const std::string& word) {
    auto at = line.find(word);
    REQUIRE(at != std::string::npos);
    return client::utf8_length(std::string_view(line).substr(0, at));
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

} // namespace

TEST_CASE("cli: consult list is an aligned table, and an error prints no half table", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    test::init_device_at_visit(db);
    run_cli_ok(Mode::in_process, db,
               {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                "unemployed", "--topic", "land", "--outcome", "case", "--question", "q"});
    run_cli_ok(Mode::in_process, db,
               {"consult", "add", "--gender", "male", "--age", "59+", "--category", "older",
                "--topic", "benefits", "--outcome", "advice", "--question", "q"});
    for (const char* lang : {"en", "kk", "ru"}) {
        INFO(lang);
        auto r = run_cli(Mode::in_process, db, {"--lang", lang, "consult", "list"});
        REQUIRE(r.code == 0);
        // Regression: tab-separated, unaligned.
        CHECK_THAT(r.out, !Catch::Contains("\t"));
        auto lines = lines_of(r.out);
        REQUIRE(lines.size() == 3);
        // The date and the village start in the same column on every line.
        CHECK(column_of(lines[1], "2024-05-14") == column_of(lines[2], "2024-05-14"));
        CHECK(column_of(lines[1], "Қызылжар") == column_of(lines[2], "Қызылжар"));
    }
    // The outcome column (before the free-length topics) lines up too.
    auto lines = lines_of(run_cli(Mode::in_process, db, {"consult", "list"}).out);
    CHECK(column_of(lines[1], "case taken on") == column_of(lines[2], "advice given"));

    // Regression: the header was printed before the error.
    auto r = run_cli(Mode::in_process, db, {"consult", "list", "--from", "2024-5-1"});
    CHECK(r.code == 2);
    CHECK(r.out.empty());
    // No rows and no error: the header alone.
    r = run_cli(Mode::in_process, db, {"consult", "list", "--from", "2025-01-01"});
    CHECK(r.code == 0);
    CHECK(lines_of(r.out).size() == 1);
}

TEST_CASE("cli: starting a visit while others of the lawyer's are open names them", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::in_process, db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::in_process, db, {"village", "add", "Бескөл", "--region", "Ақтөбе обл."});
    auto first = run_cli(Mode::in_process, db,
                         {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    REQUIRE(first.code == 0);
    CHECK(first.err.empty()); // nothing else open
    // Regression: three open visits were possible without a word.
    auto second = run_cli(Mode::in_process, db,
                          {"visit", "start", "--village", "Бескөл", "--date", "2024-05-15"});
    REQUIRE(second.code == 0);
    CHECK_THAT(second.err, Catch::Contains("1 other visit(s) of yours still open") &&
                               Catch::Contains("Қызылжар 2024-05-14"));
    auto third =
        run_cli(Mode::in_process, db,
                {"--lang", "ru", "visit", "start", "--village", "Бескөл", "--date", "2024-05-16"});
    REQUIRE(third.code == 0);
    CHECK_THAT(third.err, Catch::Contains("ещё открыто ваших выездов: 2"));
    run_cli_ok(Mode::in_process, db, {"visit", "close"});
    // --json prints one document on stdout; the note stays on stderr.
    auto json_run =
        run_cli(Mode::in_process, db,
                {"--json", "visit", "start", "--village", "Қызылжар", "--date", "2024-05-17"});
    REQUIRE(json_run.code == 0);
    CHECK_NOTHROW(nlohmann::json::parse(json_run.out));
}

TEST_CASE("cli: an edit that changes nothing says so and writes no event", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    test::init_device_at_visit(db);
    auto added = run_cli_ok(Mode::in_process, db,
                            {"--json", "consult", "add", "--gender", "female", "--age", "33-45",
                             "--category", "unemployed", "--topic", "land", "--outcome", "advice",
                             "--question", "q"});
    const std::string id = nlohmann::json::parse(added.out)["id"];
    const auto before = test::db_state(db);
    // Regression: this printed "saved".
    auto same = run_cli(Mode::in_process, db, {"consult", "edit", id, "--outcome", "advice"});
    REQUIRE(same.code == 0);
    CHECK_THAT(same.out, Catch::StartsWith("nothing changed"));
    CHECK(test::db_state(db) == before);
    auto kk = run_cli(Mode::in_process, db,
                      {"--lang", "kk", "consult", "edit", id, "--gender", "female"});
    CHECK_THAT(kk.out, Catch::StartsWith("өзгеріс жоқ"));
    auto json_same =
        run_cli(Mode::in_process, db, {"--json", "consult", "edit", id, "--outcome", "advice"});
    CHECK(nlohmann::json::parse(json_same.out)["changed"] == false);
    auto changed = run_cli(Mode::in_process, db, {"consult", "edit", id, "--outcome", "case"});
    REQUIRE(changed.code == 0);
    CHECK_THAT(changed.out, Catch::StartsWith("saved"));
    CHECK(test::db_state(db) != before);
}
