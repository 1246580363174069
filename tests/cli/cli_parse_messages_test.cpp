// What the command line says about words and options it does not know (issue: "Messages that
// mislead"): the unknown word or option is named, free text is not, and a repeated global
// option takes its last value.

#include <catch2/catch.hpp>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode;
using test::run_cli;
using test::run_cli_ok;

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
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    // Regression: "--gender is required", never naming --bogus.
    auto r = run_cli(Mode::in_process, db, {"consult", "add", "--bogus"});
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("unexpected arguments: --bogus"));
    CHECK_THAT(r.err, !Catch::Contains("required"));
}

TEST_CASE("cli: an extra word is named, free text in the wrong place is only counted", "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
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
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    // Regression: "--lang: value not given".
    auto r = run_cli(Mode::in_process, db, {"--lang", "ru", "status", "--lang", "kk"});
    INFO(r.err);
    CHECK(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("ауылдар"));
    r = run_cli(Mode::binary, dir / "other.db", {"--db", db.string(), "status"});
    INFO(r.err);
    CHECK(r.code == 0);
}
