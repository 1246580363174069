// The `caravan` command line, in-process and as the real binary: happy paths with Kazakh and
// Russian text, JSON output, bad input, a locked or foreign database, localized labels.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>

#include "../client/jpeg_exif.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/storage/database.hpp"
#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using nlohmann::json;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

// A device initialised (Арнат Ұлтанбаев, Жамбыл обл.) with the village Қызылжар of Ақтөбе обл.
// and a visit to it started on 2024-05-14, each step required to succeed.
void start_visit(Mode mode, const std::filesystem::path& db) {
    run_cli_ok(mode, db, {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."});
    run_cli_ok(mode, db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    run_cli_ok(mode, db, {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
}

const std::string k_question_kk = "Көршісі Асқаров жер телімінің шекарасын жылжытты";
const std::string k_question_ru = "Соседка Петрова не возвращает долг по расписке";

// "saved 1a2b3c4d (<uuid>)" -> "<uuid>"
std::string id_in_parentheses(const std::string& out) {
    auto open = out.find('(');
    auto close = out.find(')', open);
    REQUIRE(open != std::string::npos);
    REQUIRE(close != std::string::npos);
    return out.substr(open + 1, close - open - 1);
}

std::filesystem::path write_photo(const test::TempDir& dir, const std::string& name) {
    auto path = dir / name;
    std::ofstream(path, std::ios::binary) << test::make_jpeg({});
    return path;
}

std::vector<std::string> consult_kk() {
    return {"consult",      "add",
            "--gender",     "әйел",
            "--age",        "33-45",
            "--category",   "жұмыссыздар",
            "--topic",      "жер",
            "--topic",      "отбасы",
            "--outcome",    "кеңес берілді",
            "--question",   k_question_kk,
            "--advice",     "Әкімдікке өтініш жазу",
            "--lang",       "kk",
            "--vulnerable", "--follow-up"};
}

std::vector<std::string> consult_ru() {
    return {"consult",   "add",        "--gender",   "мужчина",
            "--age",     "59+",        "--category", "пожилые люди (50+)",
            "--topic",   "наследство", "--topic",    "credit",
            "--outcome", "document",   "--question", k_question_ru,
            "--lang",    "ru"};
}

} // namespace

TEST_CASE("cli: every command's happy path with Kazakh and Russian text", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";

    auto r =
        run_cli_ok(mode, db, {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."});
    CHECK_THAT(r.out, Catch::Contains("Арнат Ұлтанбаев"));
    r = run_cli_ok(mode, db,
                   {"village", "add", "Қызылжар", "--region", "Ақтөбе обл.", "--district",
                    "Мұғалжар ауданы", "--lat", "48.9", "--lon", "57.1"});
    CHECK_THAT(r.out, Catch::Contains("Қызылжар (Ақтөбе обл., Мұғалжар ауданы)"));
    run_cli_ok(mode, db, {"village", "add", "Берёзовка", "--region", "Ақмола обл."});
    r = run_cli_ok(mode, db, {"village", "list"});
    CHECK_THAT(r.out, Catch::Contains("Қызылжар") && Catch::Contains("Берёзовка"));
    r = run_cli_ok(mode, db, {"village", "list", "--region", "АҚТӨБЕ ОБЛ."});
    CHECK_THAT(r.out, Catch::Contains("Қызылжар") && !Catch::Contains("Берёзовка"));

    r = run_cli_ok(mode, db, {"visit", "start", "--village", "ҚЫЗЫЛЖАР", "--date", "2024-05-14"});
    CHECK_THAT(r.out, Catch::Contains("Қызылжар (Ақтөбе обл.), 2024-05-14, Арнат Ұлтанбаев"));
    r = run_cli_ok(mode, db, {"visit", "current"});
    CHECK_THAT(r.out, Catch::Contains("Қызылжар"));
    r = run_cli_ok(mode, db, {"visit", "list"});
    CHECK_THAT(r.out, Catch::Contains("2024-05-14"));

    r = run_cli_ok(mode, db,
                   {"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                    "unemployed", "--count", "14", "--vulnerable"});
    CHECK_THAT(r.out, Catch::Contains("14"));
    r = run_cli_ok(mode, db, {"survey", "add", "--respondents", "12", "--satisfied", "11"});
    CHECK_THAT(r.out, Catch::Contains("11/12"));
    auto photo = write_photo(dir, "Семинар-1.jpg");
    r = run_cli_ok(mode, db, {"photo", "add", photo.string(), "--caption", "Семинар", "--consent"});
    CHECK_THAT(r.out, Catch::Contains("Семинар-1.jpg") && Catch::Contains("2024-05-14T10:31:02"));
    r = run_cli_ok(mode, db, {"photo", "add", photo.string()});
    CHECK_THAT(r.out, Catch::Contains("already recorded"));

    r = run_cli_ok(mode, db, consult_kk());
    const std::string kk_id = id_in_parentheses(r.out);
    r = run_cli_ok(mode, db, consult_ru());
    const std::string ru_id = id_in_parentheses(r.out);

    r = run_cli_ok(mode, db, {"consult", "list"});
    CHECK_THAT(r.out, Catch::Contains(client::short_id(kk_id)) &&
                          Catch::Contains(client::short_id(ru_id)));
    r = run_cli_ok(mode, db,
                   {"consult", "list", "--region", "ақтөбе обл.", "--from", "2024-05-01", "--to",
                    "2024-05-31"});
    CHECK_THAT(r.out, Catch::Contains(client::short_id(kk_id)));
    r = run_cli_ok(mode, db, {"consult", "list", "--from", "2024-06-01"});
    CHECK_THAT(r.out, !Catch::Contains(client::short_id(kk_id)));
    r = run_cli_ok(mode, db, {"consult", "show", kk_id});
    CHECK_THAT(r.out, Catch::Contains(k_question_kk));
    r = run_cli_ok(mode, db, {"consult", "show", ru_id});
    CHECK_THAT(r.out, Catch::Contains(k_question_ru) && Catch::Contains("loans and bankruptcy"));

    r = run_cli_ok(mode, db,
                   {"consult", "edit", client::short_id(kk_id), "--outcome", "case", "--question",
                    "Шекара дауы: сотқа талап арыз"});
    r = run_cli_ok(mode, db, {"consult", "show", kk_id});
    CHECK_THAT(r.out, Catch::Contains("Шекара дауы: сотқа талап арыз") &&
                          Catch::Contains("case taken on"));
    r = run_cli_ok(mode, db, {"consult", "history", kk_id});
    CHECK_THAT(r.out, Catch::Contains("create") && Catch::Contains("update") &&
                          Catch::Contains("(superseded)") && Catch::Contains("Арнат Ұлтанбаев"));
    r = run_cli_ok(mode, db, {"consult", "rm", ru_id});
    CHECK_THAT(r.out, Catch::Contains("deleted"));
    r = run_cli_ok(mode, db, {"consult", "history", ru_id}); // a deleted record keeps its history
    CHECK_THAT(r.out, Catch::Contains("delete"));

    r = run_cli_ok(mode, db, {"status"});
    CHECK_THAT(r.out, Catch::Contains("consultations: 1") && Catch::Contains("participants: 14") &&
                          Catch::Contains("photos: 1") && Catch::Contains("villages: 2"));
    r = run_cli_ok(mode, db, {"conflicts"});
    CHECK(r.out.empty());
    r = run_cli_ok(mode, db, {"visit", "close"});
    CHECK_THAT(r.out, Catch::Contains("closed"));
    r = run_cli_ok(mode, db, {"visit", "current"});
    CHECK_THAT(r.out, Catch::Contains("none"));
    r = run_cli_ok(mode, db, {"--version"});
    CHECK_THAT(r.out, Catch::Contains("caravan "));
}

TEST_CASE("cli: --json prints exactly one JSON document, and created records carry an id",
          "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";
    auto json_of = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "--json");
        return test::one_json_document(run_cli_ok(mode, db, args).out);
    };
    auto require_id = [](const json& j) {
        INFO(j.dump());
        REQUIRE(j.is_object());
        REQUIRE(j.contains("id"));
        CHECK(client::is_uuid(j["id"].get<std::string>()));
        return j["id"].get<std::string>();
    };

    require_id(json_of({"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."}));
    auto village = json_of({"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    require_id(village);
    CHECK(village["name"] == "Қызылжар");
    CHECK(json_of({"village", "list"}).size() == 1);
    auto visit = json_of({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    require_id(visit);
    CHECK(json_of({"visit", "current"})["id"] == visit["id"]);
    CHECK(json_of({"visit", "list"}).size() == 1);
    require_id(
        json_of({"attend", "add", "--gender", "male", "--age", "17-22", "--category", "youth"}));
    require_id(json_of({"survey", "add", "--respondents", "3", "--satisfied", "3"}));
    auto photos = json_of({"photo", "add", write_photo(dir, "a.jpg").string()});
    REQUIRE(photos.is_array());
    REQUIRE(photos.size() == 1);
    require_id(photos[0]);
    CHECK(photos[0]["duplicate"] == false);
    CHECK(photos[0]["lat"].get<double>() == Approx(43.2585).epsilon(1e-4));

    auto empty_list = json_of({"consult", "list"});
    CHECK(empty_list == json::array());
    auto c = json_of(consult_kk());
    const std::string id = require_id(c);
    CHECK(c["question"] == k_question_kk);
    CHECK(c["gender"] == "female");
    CHECK(c["topics"] == json{"land", "family"});
    auto c2 = json_of(consult_ru());
    require_id(c2);
    auto list = json_of({"consult", "list"});
    REQUIRE(list.is_array());
    CHECK(list.size() == 2);
    CHECK(json_of({"consult", "show", id})["id"] == id);
    auto edited = json_of({"consult", "edit", id, "--outcome", "referred"});
    CHECK(require_id(edited) == id);
    CHECK(edited["outcome"] == "referred");
    auto history = json_of({"consult", "history", id});
    REQUIRE(history.is_array());
    CHECK(history.size() == 2);
    auto removed = json_of({"consult", "rm", c2["id"]});
    CHECK(require_id(removed) == c2["id"]);
    CHECK(removed["deleted"] == true);
    auto status = json_of({"status"});
    CHECK(status["consultations"] == 1);
    CHECK(json_of({"conflicts"}) == json::array());
    require_id(json_of({"visit", "close"}));
    CHECK(json_of({"visit", "current"}).is_null());

    // An error under --json is one document too, with a stable code.
    auto bad = run_cli(mode, db,
                       {"--json", "consult", "add", "--gender", "robot", "--age", "59+",
                        "--category", "older", "--topic", "land", "--outcome", "advice"});
    CHECK(bad.code == 2);
    auto error = test::one_json_document(bad.out);
    CHECK(error["error"]["code"] == "invalid_input");
}

TEST_CASE("cli: bad input exits 2, names the field, never echoes the question, changes nothing",
          "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";
    run_cli_ok(mode, db, {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."});
    run_cli_ok(mode, db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    run_cli_ok(mode, db, {"village", "add", "Қызылорда", "--region", "Ақтөбе обл."});

    struct Case {
        std::string what;
        std::vector<std::string> args;
        std::string field;
    };
    auto consult = [](std::vector<std::string> changes) {
        std::vector<std::string> args = {"consult",    "add",        "--gender",   "female",
                                         "--age",      "33-45",      "--category", "unemployed",
                                         "--topic",    "land",       "--outcome",  "advice",
                                         "--question", k_question_kk};
        for (size_t i = 0; i + 1 < changes.size(); i += 2) {
            auto at = std::find(args.begin(), args.end(), changes[i]);
            if (changes[i + 1] == "<drop>") {
                args.erase(at, at + 2);
            } else if (at == args.end()) {
                args.push_back(changes[i]);
                args.push_back(changes[i + 1]);
            } else {
                *(at + 1) = changes[i + 1];
            }
        }
        return args;
    };
    auto check_refused = [&](const Case& c) {
        INFO(c.what);
        const auto before = test::db_state(db);
        auto r = run_cli(mode, db, c.args);
        INFO("stderr: " << r.err);
        CHECK(r.code == 2);
        CHECK_THAT(r.err, Catch::Contains(c.field));
        CHECK_THAT(r.err, !Catch::Contains("Асқаров") && !Catch::Contains("шекарасын"));
        CHECK_THAT(r.out, !Catch::Contains("Асқаров"));
        CHECK(test::db_state(db) == before);
    };

    // Before any visit is started.
    check_refused({"no current visit", consult({}), "visit"});

    run_cli_ok(mode, db, {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    auto r = run_cli_ok(mode, db,
                        {"consult", "add", "--gender", "male", "--age", "59+", "--category",
                         "older", "--topic", "land", "--outcome", "advice"});
    const std::string existing = id_in_parentheses(r.out);

    const std::vector<Case> cases = {
        {"unknown --gender value", consult({"--gender", "robot"}), "gender"},
        {"unknown --topic value", consult({"--topic", "ufo"}), "topic"},
        {"missing required --age", consult({"--age", "<drop>"}), "--age"},
        {"missing required --outcome", consult({"--outcome", "<drop>"}), "--outcome"},
        {"invalid UTF-8 in --question", consult({"--question", k_question_kk + "\xff\xfe"}),
         "question"},
        {"unknown --lang of the consultation", consult({"--lang", "de"}), "lang"},
        {"bad --date", {"visit", "start", "--village", "Қызылжар", "--date", "2024-02-30"}, "date"},
        {"date in another format",
         {"visit", "start", "--village", "Қызылжар", "--date", "14.05.2024"},
         "date"},
        {"ambiguous village name",
         {"visit", "start", "--village", "ҚЫЗЫЛ", "--date", "2024-05-15"},
         "village"},
        {"unknown village", {"visit", "start", "--village", "Шымкент"}, "village"},
        {"unreadable photo path", {"photo", "add", (dir / "no-such-photo.jpg").string()}, "photo"},
        {"a directory as photo", {"photo", "add", dir.path().string()}, "photo"},
        {"more satisfied than respondents",
         {"survey", "add", "--respondents", "5", "--satisfied", "6"},
         "satisfied"},
        {"latitude without longitude",
         {"village", "add", "Жаңаауыл", "--region", "Ақтөбе обл.", "--lat", "50.1"},
         "lat"},
        {"non-numeric --count",
         {"attend", "add", "--gender", "male", "--age", "59+", "--category", "older", "--count",
          "many"},
         "--count"},
        {"edit to an unknown outcome",
         {"consult", "edit", existing, "--outcome", "won", "--question", k_question_kk},
         "outcome"},
        {"edit of an unknown id",
         {"consult", "edit", "ffffffff", "--question", k_question_kk},
         "consultation"},
        {"unknown --lang of the interface", {"--lang", "de", "status"}, "--lang"},
    };
    for (const Case& c : cases) {
        check_refused(c);
    }
}

TEST_CASE("cli: a mistyped option name does not echo the question's text", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";
    start_visit(mode, db);
    const auto before = test::db_state(db);
    auto r = run_cli(mode, db,
                     {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                      "unemployed", "--topic", "land", "--outcome", "advice", "--questoin",
                      k_question_kk});
    INFO("stderr: " << r.err);
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("--questoin"));
    CHECK_THAT(r.err, !Catch::Contains("Асқаров"));
    CHECK(test::db_state(db) == before);
}

TEST_CASE("cli: a database locked by another process exits 3 within the busy timeout", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";
    start_visit(mode, db);
    // `status` creates the sync agent's tables on its first run, which needs the write lock.
    run_cli_ok(mode, db, {"status"});
    const auto before = test::db_state(db);

    auto holder = storage::Database::open(db);
    REQUIRE(holder);
    REQUIRE(holder->exec("BEGIN IMMEDIATE"));
    const std::map<std::string, std::string> env = {{"CARAVAN_BUSY_TIMEOUT_MS", "300"}};
    auto started = std::chrono::steady_clock::now();
    auto r = test::run_cli(mode, db,
                           {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                            "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                            k_question_kk},
                           env);
    auto elapsed = std::chrono::steady_clock::now() - started;
    INFO("stderr: " << r.err);
    CHECK(r.code == 3);
    CHECK_THAT(r.err, Catch::Contains("locked"));
    CHECK_THAT(r.err, !Catch::Contains("Асқаров"));
    CHECK(elapsed >= std::chrono::milliseconds(250));
    CHECK(elapsed < std::chrono::seconds(3));

    // Reading is not blocked by a writer.
    for (auto args :
         {std::vector<std::string>{"status"}, std::vector<std::string>{"consult", "list"},
          std::vector<std::string>{"visit", "current"}}) {
        auto read = test::run_cli(mode, db, args, env);
        INFO(args.front() << " stderr: " << read.err);
        CHECK(read.code == 0);
    }

    REQUIRE(holder->exec("ROLLBACK"));
    CHECK(test::db_state(db) == before);
    // Once the lock is released, the same command goes through.
    run_cli_ok(mode, db,
               {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                "unemployed", "--topic", "land", "--outcome", "advice"});
}

TEST_CASE("cli: a file that is not a database exits 1 and names the file", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto junk = dir / "notes-from-the-field.txt";
    const std::string content(8192, 'x');
    std::ofstream(junk) << content;
    for (auto args :
         {std::vector<std::string>{"status"}, std::vector<std::string>{"consult", "list"},
          std::vector<std::string>{"init", "--lawyer", "А", "--region", "Б"}}) {
        auto r = test::run_cli(mode, junk, args);
        INFO("stderr: " << r.err);
        CHECK(r.code == 1);
        CHECK_THAT(r.err, Catch::Contains("notes-from-the-field.txt"));
    }
    CHECK(test::read_file(junk) == content);
}

TEST_CASE("cli: an SQLite database of another program is refused", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    test::TempDir dir;
    const auto other = dir / "other.db";
    {
        auto db = storage::Database::open(other);
        REQUIRE(db);
        REQUIRE(db->exec("CREATE TABLE accounts(id INTEGER PRIMARY KEY, owner TEXT)"));
    }
    auto r = test::run_cli(mode, other, {"status"});
    CHECK(r.code == 1);
    CHECK_THAT(r.err, Catch::Contains("other.db"));
}

TEST_CASE("cli: a database from a newer program exits 7 and asks for an upgrade", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    test::TempDir dir;
    const auto db = dir / "device.db";
    run_cli_ok(mode, db, {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Жамбыл обл."});
    {
        auto raw = storage::Database::open(db);
        REQUIRE(raw);
        REQUIRE(
            raw->exec("UPDATE caravan_schema SET version = 1000 WHERE component = 'projections'"));
    }
    auto r = test::run_cli(mode, db, {"status"});
    CHECK(r.code == 7);
    CHECK_THAT(r.err, Catch::Contains("upgrade"));
}

TEST_CASE("cli: --lang kk and --lang ru show localized labels in consult show", "[cli]") {
    const Mode mode = GENERATE(Mode::in_process, Mode::binary);
    INFO(test::to_string(mode));
    test::TempDir dir;
    const auto db = dir / "device.db";
    start_visit(mode, db);
    auto r = run_cli_ok(mode, db,
                        {"consult", "add", "--gender", "male", "--age", "59+", "--category",
                         "older", "--topic", "land", "--topic", "domestic-violence", "--outcome",
                         "advice", "--lang", "kk"});
    const std::string id = id_in_parentheses(r.out);

    auto kk = run_cli_ok(mode, db, {"--lang", "kk", "consult", "show", id});
    CHECK_THAT(kk.out, Catch::Contains("жынысы: ер"));
    CHECK_THAT(kk.out, Catch::Contains("санаты: жасы үлкен адамдар (50+)"));
    CHECK_THAT(kk.out, Catch::Contains("тақырыптар: жер, отбасылық зорлық-зомбылық"));
    CHECK_THAT(kk.out, Catch::Contains("нәтиже: кеңес берілді"));
    CHECK_THAT(kk.out, Catch::Contains("тілі: қазақша"));
    CHECK_THAT(kk.out, !Catch::Contains("gender") && !Catch::Contains("advice given"));

    // The global option after the subcommand works too.
    auto ru = run_cli_ok(mode, db, {"consult", "show", id, "--lang", "ru"});
    CHECK_THAT(ru.out, Catch::Contains("пол: мужчина"));
    CHECK_THAT(ru.out, Catch::Contains("категория: пожилые люди (50+)"));
    CHECK_THAT(ru.out, Catch::Contains("темы: земля, бытовое насилие"));
    CHECK_THAT(ru.out, Catch::Contains("результат: дана консультация"));
    CHECK_THAT(ru.out, Catch::Contains("язык: казахский"));
    CHECK_THAT(ru.out, !Catch::Contains("gender") && !Catch::Contains("advice given"));

    auto en = run_cli_ok(mode, db, {"consult", "show", id});
    CHECK_THAT(en.out, Catch::Contains("gender: male") && Catch::Contains("outcome: advice given"));
}
