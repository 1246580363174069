// `caravan conflicts` and `caravan consult history` as a person reads them: the lawyers' names
// and local times instead of clock values and device ids, field names and values in the chosen
// language.

#include <catch2/catch.hpp>

#include <cstdlib>

#include "caravan/client/authorship.hpp"
#include "caravan/client/iso_time.hpp"
#include "cli_helpers.hpp"
#include "conflict_fixture.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode;
using test::run_cli_ok;

TEST_CASE("cli conflicts and history: lawyers' names and local times, words in the chosen "
          "language",
          "[cli][conflicts]") {
    const test::ScopedEnv utc_plus_5(std::map<std::string, std::string>{
        {"TZ", "<+05>-5"}}); // UTC+5, a POSIX rule: no tzdata needed
    ::tzset();
    test::TempDir dir;
    const std::string id = test::concurrent_outcomes(dir);
    const auto db = dir / "b.db";
    const std::string short_id = id.substr(id.size() - 8);

    for (Mode mode : {Mode::in_process, Mode::binary}) {
        INFO(test::to_string(mode));
        auto en = run_cli_ok(mode, db, {"conflicts"});
        INFO(en.out);
        CHECK(en.out == "consultation " + short_id + ", outcome: kept " +
                            "document drafted (Гүлнар Сәрсенова, 2024-05-14 16:01); overwritten " +
                            "case taken on (Арнат Ұлтанбаев, 2024-05-14 16:00)\n");

        auto ru = run_cli_ok(mode, db, {"--lang", "ru", "conflicts"});
        INFO(ru.out);
        CHECK_THAT(ru.out,
                   Catch::StartsWith("консультация " + short_id + ", результат: оставлено "));
        CHECK_THAT(ru.out, Catch::Contains("(Гүлнар Сәрсенова, 2024-05-14 16:01); перезаписано "));
        CHECK_THAT(ru.out, Catch::Contains("(Арнат Ұлтанбаев, 2024-05-14 16:00)"));
        CHECK(ru.out.find('@') == std::string::npos); // no version strings

        auto kk = run_cli_ok(mode, db, {"--lang", "kk", "consult", "history", short_id});
        INFO(kk.out);
        CHECK_THAT(kk.out, Catch::StartsWith("2024-05-14 15:00  Арнат Ұлтанбаев  жасалды\n"));
        CHECK_THAT(kk.out, Catch::Contains("    жынысы: әйел\n"));
        CHECK_THAT(kk.out, Catch::Contains("    әлеуметтік осал: иә\n"));
        CHECK_THAT(kk.out, Catch::Contains("    нәтиже: кеңес берілді  (кейін ауыстырылды)\n"));
        CHECK_THAT(kk.out, Catch::Contains("2024-05-14 16:01  Гүлнар Сәрсенова  өзгертілді\n"));
        CHECK(kk.out.find("create") == std::string::npos);
        CHECK(kk.out.find("outcome") == std::string::npos);
    }
}

TEST_CASE("iso time: a stored UTC time reads as local time to the minute", "[cli][conflicts]") {
    const test::ScopedEnv utc_plus_5(std::map<std::string, std::string>{{"TZ", "<+05>-5"}});
    ::tzset();
    CHECK(client::local_minute("2024-05-14T10:31:02.120Z") == "2024-05-14 15:31");
    CHECK(client::local_minute("2024-12-31T23:59:00Z") == "2025-01-01 04:59");
    CHECK(client::local_minute("not a time") == "not a time");
    CHECK(client::local_minute("2024-5-14T10:31") == "2024-5-14T10:31");
    const auto a = client::authorship("0000018f76d2a600@01a2482e-9e55-7257-863b-41a671f8e6f6");
    REQUIRE(a);
    CHECK(a->device_id == "01a2482e-9e55-7257-863b-41a671f8e6f6");
}
