// Error messages in the user's language: the real `caravan` binary with --lang kk and --lang ru
// on representative failures; the exit code and the JSON `code` do not depend on the language.

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <tuple>

#include "caravan/client/messages.hpp"
#include "caravan/storage/messages.hpp"
#include "cli_helpers.hpp"
#include "message_catalog_check.hpp"
#include "messages.hpp"
#include "temp_dir.hpp"
#include "caravan/sync/agent/messages.hpp"

using namespace caravan;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

struct Expected {
    std::string kk, ru, en;
};

// Runs `args` in each language (real binary) and checks stderr holds that language's text, no
// English text of the others, and the same exit code everywhere.
void check_localized(const std::filesystem::path& db, const std::vector<std::string>& args,
                     const Expected& want, int exit_code) {
    for (auto [lang, text] :
         {std::pair{"kk", want.kk}, std::pair{"ru", want.ru}, std::pair{"en", want.en}}) {
        std::vector<std::string> full = {"--lang", lang};
        full.insert(full.end(), args.begin(), args.end());
        auto r = run_cli(Mode::binary, db, full);
        INFO("--lang " << lang << "\nstderr: " << r.err);
        CHECK(r.code == exit_code);
        CHECK(r.err.find("caravan: ") == 0);
        CHECK(r.err.find(text) != std::string::npos);
        if (std::string(lang) != "en") {
            CHECK(r.err.find(want.en) == std::string::npos);
        }
    }
}

} // namespace

TEST_CASE("i18n: the agent and CLI catalogs are complete, ids unique across all catalogs",
          "[cli][i18n]") {
    std::set<std::string> ids;
    test::check_catalog(storage::msg::catalog(), ids);
    test::check_catalog(client::msg::catalog(), ids);
    test::check_catalog(cli::msg::catalog(), ids);
    test::check_catalog(sync::agent::msg::catalog(), ids);
}

TEST_CASE("i18n: record-keeping errors in Kazakh and Russian, exit codes unchanged",
          "[cli][i18n]") {
    test::TempDir dir;
    auto db = dir / "caravan.db";

    // not initialised
    check_localized(db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."},
                    {"бұл құрылғы инициализацияланбаған: алдымен `caravan init",
                     "это устройство не инициализировано: сначала выполните `caravan init",
                     "this device is not initialised"},
                    2);

    run_cli_ok(Mode::binary, db,
               {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."});
    run_cli_ok(Mode::binary, db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::binary, db, {"village", "add", "Қызылорда", "--region", "Ақтөбе обл."});

    // unknown village
    check_localized(db, {"visit", "start", "--village", "Жоқауыл"},
                    {"ауыл: мұндай ауыл жоқ", "село: такого села нет", "village: no such village"},
                    2);
    // ambiguous name prefix: both villages named, the choice left to the user
    check_localized(db, {"visit", "start", "--village", "Қызыл"},
                    {"ауыл: бұл атауға бірнеше ауыл сәйкес келеді: ",
                     "село: этому названию соответствует несколько сёл: ",
                     "village: the name matches several villages: "},
                    2);
    // bad date
    check_localized(db, {"visit", "start", "--village", "Қызылжар", "--date", "2024-13-01"},
                    {"күні: '2024-13-01' — күнтізбеде мұндай күн жоқ",
                     "дата: '2024-13-01' — такого дня нет в календаре",
                     "date: '2024-13-01' is not a day of the calendar"},
                    2);
    run_cli_ok(Mode::binary, db, {"visit", "start", "--village", "Қызылжар"});
    // bad enumeration value: the accepted spellings are listed as they are typed
    check_localized(
        db, {"attend", "add", "--gender", "fem", "--age", "33-45", "--category", "unemployed"},
        {"жынысы: 'fem' — жарамсыз мән; рұқсат етілгендері: female, male, unrecorded",
         "пол: 'fem' — недопустимое значение; допустимые: female, male, unrecorded",
         "gender: 'fem' is not one of female, male, unrecorded"},
        2);
    // nothing was recorded by the failures
    auto status = run_cli_ok(Mode::binary, db, {"--json", "status"});
    CHECK(test::one_json_document(status.out).dump().find("\"participants\":0") !=
          std::string::npos);
}

TEST_CASE("i18n: command-line errors (missing option, unknown option, bad value) are "
          "localized and name the option",
          "[cli][i18n]") {
    test::TempDir dir;
    auto db = dir / "caravan.db";
    check_localized(
        db, {"village", "add", "Қызылжар"},
        {"--region: міндетті параметр", "--region: обязательный параметр", "--region is required"},
        2);
    check_localized(db, {"status", "--bogus"},
                    {"артық аргументтер: --bogus", "лишние аргументы: --bogus",
                     "unexpected arguments: --bogus"},
                    2);
    check_localized(db,
                    {"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                     "unemployed", "--count", "many"},
                    {"--count: көрсетілген мән бұл параметрдің түріне сай емес",
                     "--count: указанное значение не подходит для этого параметра по типу",
                     "--count: the given value cannot be read"},
                    2);
    // --lang given after the subcommand, and a parse error before CLI11 reads it
    auto r = run_cli(Mode::binary, db, {"status", "--bogus", "--lang", "ru"});
    CHECK(r.code == 2);
    CHECK(r.err.find("лишние аргументы: --bogus") != std::string::npos);
    CHECK(r.err.find("Справка: запустите с --help.") != std::string::npos);
}

TEST_CASE("i18n: the --json error document carries the localized message, the English one "
          "and the unchanged code",
          "[cli][i18n]") {
    test::TempDir dir;
    auto db = dir / "caravan.db";
    run_cli_ok(Mode::binary, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    for (auto mode : {Mode::binary, Mode::in_process}) {
        INFO(test::to_string(mode));
        auto r =
            run_cli(mode, db, {"--json", "--lang", "kk", "visit", "start", "--village", "Жоқ"});
        CHECK(r.code == 2);
        auto doc = test::one_json_document(r.out);
        CHECK(doc["error"]["code"] == "not_found");
        CHECK(doc["error"]["message"].get<std::string>().starts_with("ауыл: мұндай ауыл жоқ"));
        CHECK(
            doc["error"]["message_en"].get<std::string>().starts_with("village: no such village"));
        CHECK(r.err.find(doc["error"]["message"].get<std::string>()) != std::string::npos);

        auto parse = run_cli(mode, db, {"--json", "--lang", "ru", "village", "add", "X"});
        CHECK(parse.code == 2);
        auto parse_doc = test::one_json_document(parse.out);
        CHECK(parse_doc["error"]["code"] == "invalid_input");
        CHECK(parse_doc["error"]["message"] == "--region: обязательный параметр, укажите его");
        CHECK(parse_doc["error"]["message_en"] == "--region is required");
    }
}

TEST_CASE("i18n: `caravan import` lists each bad row and the summary in the chosen language",
          "[cli][i18n]") {
    test::TempDir dir;
    auto db = dir / "caravan.db";
    run_cli_ok(Mode::binary, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    auto file = dir / "journal.csv";
    std::ofstream(file, std::ios::binary)
        << "date,region,village,gender,age,category,topics,outcome\n"
           "2024-13-01,Ақтөбе обл.,Қызылжар,female,33-45,unemployed,land,advice\n"
           "2024-05-14,Ақтөбе обл.,Қызылжар,fem,33-45,unemployed,land,advice\n";
    for (auto [lang, date_line, gender_line, summary] :
         {std::tuple{"kk", "2: date: күнтізбеде мұндай күн жоқ",
                     "3: gender: белгісіз мән; кодты немесе kk/ru/en тіліндегі атауды",
                     "файлында 2 жолда 2 қате табылды; ештеңе импортталмады"},
          std::tuple{"ru", "2: date: такого дня нет в календаре",
                     "3: gender: неизвестное значение; укажите код или название на kk/ru/en",
                     "проблем: 2, строк с проблемами: 2, файл "},
          std::tuple{"en", "2: date: not a day of the calendar",
                     "3: gender: not a known value; give a code or a label in kk/ru/en",
                     "2 problem(s) on 2 line(s) of "}}) {
        auto r = run_cli(Mode::binary, db, {"--lang", lang, "import", file.string()});
        INFO("--lang " << lang << "\nstderr: " << r.err);
        CHECK(r.code == 2);
        CHECK(r.err.find(date_line) != std::string::npos);
        CHECK(r.err.find(gender_line) != std::string::npos);
        CHECK(r.err.find(summary) != std::string::npos);
    }
}
