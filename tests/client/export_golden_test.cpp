// Exports of a small dataset: golden files in each language (journal CSV and JSON, report
// text/CSV/JSON), XLSX read back by openpyxl, CSV quoting, sheet names, atomic output.

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/export/atomic_file.hpp"
#include "caravan/client/export/csv.hpp"
#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/export/xlsx.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "must.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
namespace ex = caravan::client::exports;
namespace fs = std::filesystem;

namespace {

fs::path fixture(const std::string& name) {
    return fs::path(CARAVAN_SOURCE_DIR) / "tests" / "fixtures" / "export" / name;
}

// Compares with a golden file; CARAVAN_UPDATE_GOLDEN=1 rewrites it instead.
void check_golden(const std::string& name, const std::string& actual) {
    if (const char* update = std::getenv("CARAVAN_UPDATE_GOLDEN"); update && *update == '1') {
        std::ofstream(fixture(name), std::ios::binary) << actual;
        WARN("golden file rewritten: " << name);
        return;
    }
    std::string expected = test::read_file(fixture(name));
    INFO("golden file " << name << " (CARAVAN_UPDATE_GOLDEN=1 rewrites it)");
    REQUIRE_FALSE(expected.empty());
    CHECK(actual == expected);
}

struct Dataset {
    test::TempDir dir;
    Engine engine = must(Engine::open(dir / "device.db"));
    std::vector<std::string> visits; // in recording order
};

// A small journal with what exports must get right: Cyrillic, commas, quotes, line breaks,
// text that looks like a formula, a district and a missing one, an edit, a deletion, an
// unrecorded gender, three regions, a visit outside a date range.
std::unique_ptr<Dataset> small_dataset() {
    auto d = std::make_unique<Dataset>();
    Engine& e = d->engine;
    must(e.init("Ұлтанбаев Арнат", "Ақтөбе обл."));
    must(e.add_village(
        {"Қызылжар", "Ақтөбе обл.", std::string("Мұғалжар ауданы"), std::nullopt, std::nullopt}));
    must(e.add_village({"Ақжар", "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt}));
    must(e.add_village({"Бескөл", "Абай обл.", std::nullopt, std::nullopt, std::nullopt}));

    auto consult = [&](const std::string& id, PersonInput person, std::vector<std::string> topics,
                       std::string outcome, std::string question, std::string advice,
                       bool follow_up, std::optional<std::string> lang) {
        ConsultationInput in;
        in.id = id;
        in.person = std::move(person);
        in.topics = std::move(topics);
        in.outcome = std::move(outcome);
        in.question = std::move(question);
        in.advice = std::move(advice);
        in.follow_up = follow_up;
        in.lang = std::move(lang);
        return must(e.add_consultation(in));
    };

    Visit v1 = must(e.start_visit("Қызылжар", std::string("2024-03-05")));
    d->visits.push_back(v1.id);
    must(e.add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 12}));
    must(e.add_attendance({std::nullopt, {"male", "59+", "older", false}, 5}));
    consult("01900000-0000-7000-8000-000000000001", {"male", "59+", "older", true}, {"land"},
            "case", "Жер телімі, шекара дауы", "Сотқа \"талап арыз\" беру", true, "kk");
    Consultation c2 = consult("01900000-0000-7000-8000-000000000002",
                              {"female", "33-45", "unemployed", false}, {"benefits", "credit"},
                              "advice", "Жәрдемақы тағайындау\nекінші жол", "", false, "ru");
    ConsultationPatch patch;
    patch.outcome = "document";
    patch.advice = "Өтініш жазылды";
    must(e.edit_consultation(c2.id, patch));
    Consultation c3 =
        consult("01900000-0000-7000-8000-000000000003", {"male", "28-32", "business", false},
                {"tax"}, "advice", "Қате жазба", "", false, std::nullopt);
    must(e.remove_consultation(c3.id));
    must(e.add_survey({std::nullopt, 17, 16}));
    std::vector<fs::path> files;
    for (int i = 0; i < 2; ++i) {
        files.push_back(d->dir / ("p" + std::to_string(i) + ".jpg"));
        std::ofstream(files.back()) << "photo " << i;
    }
    must(e.add_photos({std::nullopt, files, std::nullopt, true}));
    must(e.close_visit(std::nullopt));

    Visit v2 = must(e.start_visit("Ақжар", std::string("2024-04-10")));
    d->visits.push_back(v2.id);
    consult("01900000-0000-7000-8000-000000000004", {"unrecorded", "17-22", "youth", false},
            {"family"}, "referred", "", "", false, std::nullopt);
    consult("01900000-0000-7000-8000-000000000005", {"female", "23-27", "other", true},
            {"domestic-violence", "housing"}, "case", "=SUM(1+1), не формула", "Аудандық полиция",
            true, "ru");
    // Left open: a warning.

    Visit v3 = must(e.start_visit("Бескөл", std::string("2024-09-01")));
    d->visits.push_back(v3.id);
    must(e.add_attendance({std::nullopt, {"male", "unrecorded", "ngo", false}, 3}));
    consult("01900000-0000-7000-8000-000000000006", {"male", "46-58", "ngo", false}, {"e-gov"},
            "advice", "eGov арқылы шағым", "Нұсқаулық берілді", false, "kk");
    must(e.close_visit(std::nullopt));
    return d;
}

std::string journal(Engine& e, Lang lang, ex::Format format, ex::Scope scope = {}) {
    std::ostringstream out;
    ex::JournalRequest request{std::move(scope), lang};
    must(ex::write_journal(must(e.read_view()).database(), request, format, out));
    return out.str();
}

nlohmann::json read_xlsx(const fs::path& file) {
    auto r =
        test::run_process({"/usr/bin/python3", fixture("read_xlsx.py").string(), file.string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out);
}

std::vector<std::string> dir_entries(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

} // namespace

TEST_CASE("journal export: golden CSV and JSON in Kazakh, Russian and English", "[export]") {
    auto d = small_dataset();
    for (Lang lang : {Lang::kk, Lang::ru, Lang::en}) {
        std::string suffix = std::string(to_string(lang));
        check_golden("journal." + suffix + ".csv", journal(d->engine, lang, ex::Format::csv));
        check_golden("journal." + suffix + ".json", journal(d->engine, lang, ex::Format::json));
    }
}

TEST_CASE("journal export: CSV is RFC 4180 with a BOM and CRLF line ends", "[export]") {
    auto d = small_dataset();
    std::string csv = journal(d->engine, Lang::en, ex::Format::csv);
    REQUIRE(csv.rfind("\xEF\xBB\xBF", 0) == 0);
    CHECK(csv.find("\"Жер телімі, шекара дауы\"") != std::string::npos);
    CHECK(csv.find("\"Сотқа \"\"талап арыз\"\" беру\"") != std::string::npos);
    CHECK(csv.find("\"Жәрдемақы тағайындау\nекінші жол\"") != std::string::npos);
    // Every record ends in CRLF; the only bare LF is the one inside the quoted question.
    size_t bare_lf = 0;
    for (size_t i = 0; i < csv.size(); ++i) {
        if (csv[i] == '\n' && (i == 0 || csv[i - 1] != '\r')) {
            ++bare_lf;
        }
    }
    CHECK(bare_lf == 1);
    CHECK(csv.substr(csv.size() - 2) == "\r\n");
}

TEST_CASE("journal export: deleted consultations are absent, edited ones show current values",
          "[export]") {
    auto d = small_dataset();
    auto doc = nlohmann::json::parse(journal(d->engine, Lang::en, ex::Format::json));
    CHECK(doc["count"] == 5);
    REQUIRE(doc["rows"].size() == 5);
    for (const auto& row : doc["rows"]) {
        CHECK(row["id"] != "01900000-0000-7000-8000-000000000003");
        if (row["id"] == "01900000-0000-7000-8000-000000000002") {
            CHECK(row["outcome"] == "document");
            CHECK(row["advice"] == "Өтініш жазылды");
            CHECK(row["labels"]["outcome"] == "document drafted");
        }
    }
    // Numbered 1..n in order of region, date, id.
    for (size_t i = 0; i < doc["rows"].size(); ++i) {
        CHECK(doc["rows"][i]["no"] == i + 1);
    }
}

TEST_CASE("journal export: region and date range select rows, bad scopes are refused", "[export]") {
    auto d = small_dataset();
    auto doc = nlohmann::json::parse(
        journal(d->engine, Lang::kk, ex::Format::json, {std::string("ақтөбе ОБЛ."), {}, {}}));
    CHECK(doc["region"] == "Ақтөбе обл."); // canonical spelling
    CHECK(doc["count"] == 2);
    doc = nlohmann::json::parse(
        journal(d->engine, Lang::kk, ex::Format::json,
                {std::nullopt, std::string("2024-04-01"), std::string("2024-08-31")}));
    CHECK(doc["count"] == 2);

    std::ostringstream out;
    auto unknown =
        ex::write_journal(must(d->engine.read_view()).database(),
                          {{std::string("Марс обл."), {}, {}}, Lang::en}, ex::Format::csv, out);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().code == ErrorCode::not_found);
    CHECK(unknown.error().message.find("Ақтөбе обл.") != std::string::npos); // lists known ones
    auto inverted = ex::write_journal(
        must(d->engine.read_view()).database(),
        {{std::nullopt, std::string("2024-09-01"), std::string("2024-01-01")}, Lang::en},
        ex::Format::csv, out);
    REQUIRE_FALSE(inverted);
    CHECK(inverted.error().code == ErrorCode::invalid_input);
    CHECK(out.str().empty()); // nothing written before the scope was checked
}

TEST_CASE("journal export: XLSX has a sheet per region, real dates, frozen header, filter",
          "[export][xlsx]") {
    auto d = small_dataset();
    test::TempDir out;
    auto summary = must(ex::export_journal(must(d->engine.read_view()).database(), {{}, Lang::kk},
                                           ex::Format::xlsx, out / "journals.xlsx"));
    CHECK(summary.rows == 5);
    CHECK(summary.sheets == std::vector<std::string>{"Абай обл.", "Ақтөбе обл.", "Жамбыл обл."});
    auto book = read_xlsx(out / "journals.xlsx");
    REQUIRE(book["sheets"].size() == 3);
    const auto& aktobe = book["sheets"][1];
    CHECK(aktobe["name"] == "Ақтөбе обл.");
    CHECK(aktobe["max_row"] == 3); // header + 2
    CHECK(aktobe["freeze"] == "A2");
    CHECK(aktobe["filter"] == "A1:Q3");
    const auto& header = aktobe["rows"][0];
    CHECK(header[0] == "№");
    CHECK(header[2] == "күні");
    CHECK(header[12] == "сұрақтың қысқаша мазмұны");
    const auto& first = aktobe["rows"][1];
    CHECK(first[0] == 1);
    CHECK(first[2]["date"] == "2024-03-05");
    CHECK(first[2]["is_date"] == true);
    CHECK(first[2]["format"] == "dd.mm.yyyy");
    CHECK(first[4] == "Қызылжар");
    CHECK(first[5] == "Мұғалжар ауданы");
    CHECK(first[12] == "Жер телімі, шекара дауы");
    CHECK(first[13] == "Сотқа \"талап арыз\" беру");
    CHECK(first[14] == "қорғауға алынды");
    const auto& second = aktobe["rows"][2];
    CHECK(second[11] == "әлеуметтік төлемдер мен мемлекеттік гранттар; несие және банкроттық");
    CHECK(second[12] == "Жәрдемақы тағайындау\nекінші жол");
    // Numbering restarts on every sheet; formula-looking text stays text.
    const auto& zhambyl = book["sheets"][2];
    CHECK(zhambyl["rows"][1][0] == 1);
    CHECK(zhambyl["rows"][2][12] == "=SUM(1+1), не формула");
    // Widths are set per column (question and advice are wide, for an A4 landscape page).
    CHECK(aktobe["widths"][12].get<double>() >= 30);
    CHECK(aktobe["widths"][0].get<double>() < 10);
}

TEST_CASE("journal export: XLSX of one region has one sheet, also when it has no rows",
          "[export][xlsx]") {
    auto d = small_dataset();
    test::TempDir out;
    auto summary = must(
        ex::export_journal(must(d->engine.read_view()).database(),
                           {{std::string("Жамбыл обл."), std::string("2024-05-01"), {}}, Lang::en},
                           ex::Format::xlsx, out / "empty.xlsx"));
    CHECK(summary.rows == 0);
    auto book = read_xlsx(out / "empty.xlsx");
    REQUIRE(book["sheets"].size() == 1);
    CHECK(book["sheets"][0]["name"] == "Жамбыл обл.");
    CHECK(book["sheets"][0]["max_row"] == 1);
    CHECK(book["sheets"][0]["rows"][0][2] == "date");
}

TEST_CASE("journal export: XLSX written to a stream equals the file", "[export][xlsx]") {
    auto d = small_dataset();
    test::TempDir out;
    std::ostringstream stream;
    must(ex::write_journal(must(d->engine.read_view()).database(), {{}, Lang::ru}, ex::Format::xlsx,
                           stream));
    std::ofstream(out / "stream.xlsx", std::ios::binary) << stream.str();
    auto book = read_xlsx(out / "stream.xlsx");
    CHECK(book["sheets"].size() == 3);
    CHECK(book["sheets"][0]["rows"][0][2] == "дата");
}

TEST_CASE("xlsx: sheet names are made valid and unique", "[export][xlsx]") {
    CHECK(ex::make_sheet_name("Ақтөбе обл.", {}, "x") == "Ақтөбе обл.");
    CHECK(ex::make_sheet_name("a/b\\c[d]e:f*g?h", {}, "x") == "a_b_c_d_e_f_g_h");
    CHECK(ex::make_sheet_name("'quoted'", {}, "x") == "quoted");
    CHECK(ex::make_sheet_name("", {}, "облысы белгісіз") == "облысы белгісіз");
    CHECK(ex::make_sheet_name("history", {}, "x") == "history (2)");
    std::string long_name = "Шығыс Қазақстан облысының Ұлан ауданы, Қасым Қайсенов кенті";
    std::string cut = ex::make_sheet_name(long_name, {}, "x");
    CHECK(cut == "Шығыс Қазақстан облысының Ұлан"); // 31 units cut, then the trailing space
    CHECK(long_name.rfind(cut, 0) == 0);
    // Excel compares names ignoring case, Cyrillic included.
    std::string again = ex::make_sheet_name("АҚТӨБЕ ОБЛ.", {"Ақтөбе обл."}, "x");
    CHECK(again == "АҚТӨБЕ ОБЛ. (2)");
    std::string long_again = ex::make_sheet_name(long_name, {cut}, "x");
    CHECK(long_again == "Шығыс Қазақстан облысының (2)"); // cut at a word, + " (2)"
    // A cut falls between words, never inside one.
    CHECK(ex::make_sheet_name("Санаттар бойынша әлеуметтік мәртебе", {}, "x") ==
          "Санаттар бойынша әлеуметтік");
    CHECK(long_again.substr(long_again.size() - 4) == " (2)");
    // Emoji take two UTF-16 units, as Excel counts.
    std::string emoji;
    for (int i = 0; i < 20; ++i) {
        emoji += "\xF0\x9F\x93\xB7"; // U+1F4F7
    }
    CHECK(utf8_length(ex::make_sheet_name(emoji, {}, "x")) == 15);
}

TEST_CASE("csv writer: quotes only what RFC 4180 requires", "[export]") {
    std::ostringstream out;
    ex::CsvWriter csv(out);
    csv.field("plain");
    csv.field("a,b");
    csv.field("say \"hi\"");
    csv.field("two\nlines");
    csv.field(std::int64_t{42});
    csv.field(95.0, 1);
    csv.field("");
    csv.end_row();
    CHECK(out.str() == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",42,95.0,\r\n");
}

TEST_CASE("atomic file: nothing is left when not committed, commit replaces the target",
          "[export]") {
    test::TempDir dir;
    {
        auto file = must(ex::AtomicFile::create(dir / "out.csv"));
        file.stream() << "partial";
        CHECK(fs::exists(file.temp_path()));
        CHECK((fs::status(file.temp_path()).permissions() & fs::perms::others_read) ==
              fs::perms::none);
    }
    CHECK(dir_entries(dir.path()).empty());
    std::ofstream(dir / "out.csv") << "old";
    {
        auto file = must(ex::AtomicFile::create(dir / "out.csv"));
        file.stream() << "new";
        must(file.commit());
    }
    CHECK(test::read_file(dir / "out.csv") == "new");
    CHECK(dir_entries(dir.path()) == std::vector<std::string>{"out.csv"});

    auto missing = ex::AtomicFile::create(dir / "no" / "such" / "dir.csv");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::invalid_input);
    auto directory = ex::AtomicFile::create(dir.path());
    REQUIRE_FALSE(directory);
    CHECK(directory.error().code == ErrorCode::invalid_input);
    auto unwritable = ex::AtomicFile::create("/proc/caravan-export.csv");
    REQUIRE_FALSE(unwritable);
    CHECK(unwritable.error().code == ErrorCode::invalid_input);
}

TEST_CASE("journal export: a refused scope leaves no file behind", "[export]") {
    auto d = small_dataset();
    test::TempDir out;
    for (ex::Format format : {ex::Format::csv, ex::Format::json, ex::Format::xlsx}) {
        auto r =
            ex::export_journal(must(d->engine.read_view()).database(),
                               {{std::string("Марс"), {}, {}}, Lang::en}, format, out / "x.out");
        REQUIRE_FALSE(r);
        r = ex::export_journal(must(d->engine.read_view()).database(), {{}, Lang::en},
                               ex::Format::text, out / "x.out");
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::invalid_input);
    }
    CHECK(dir_entries(out.path()).empty());
}

namespace {

// Visit ids are random (UUIDv7): golden files hold placeholders.
std::string placeholders(std::string text, const Dataset& d) {
    for (size_t i = 0; i < d.visits.size(); ++i) {
        for (const std::string& id : {d.visits[i], short_id(d.visits[i])}) {
            std::string mark = "<visit-" + std::to_string(i + 1) + (id.size() > 8 ? "-id>" : ">");
            for (size_t at; (at = text.find(id)) != std::string::npos;) {
                text.replace(at, id.size(), mark);
            }
        }
    }
    return text;
}

ex::Plan small_plan() {
    return must(ex::parse_plan(R"({"name": "Сынақ жоспары",
        "period": {"from": "2024-01-01", "to": "2024-08-31"},
        "targets": {"villages": 2, "participants": 20, "journals": 2, "lawyers": 1,
                    "protected": 2, "satisfaction_percent": 75, "photos_per_visit": 2,
                    "consultations": 4}})",
                               "test"));
}

} // namespace

TEST_CASE("report export: golden indicator and breakdown tables", "[export]") {
    auto d = small_dataset();
    auto view = must(d->engine.read_view());
    storage::Database& db = view.database();
    auto report = must(ex::compute_indicators(db, small_plan(), {}));
    auto breakdown = must(ex::compute_breakdown(db, {}));
    auto render = [&](auto write, const auto& what, ex::Format format, Lang lang) {
        std::ostringstream out;
        must(write(what, format, lang, out));
        return placeholders(out.str(), *d);
    };
    check_golden("indicators.en.txt",
                 render(ex::write_indicators, report, ex::Format::text, Lang::en));
    check_golden("indicators.kk.txt",
                 render(ex::write_indicators, report, ex::Format::text, Lang::kk));
    check_golden("indicators.ru.json",
                 render(ex::write_indicators, report, ex::Format::json, Lang::ru));
    check_golden("indicators.kk.csv",
                 render(ex::write_indicators, report, ex::Format::csv, Lang::kk));
    check_golden("breakdown.kk.txt",
                 render(ex::write_breakdown, breakdown, ex::Format::text, Lang::kk));
    check_golden("breakdown.ru.csv",
                 render(ex::write_breakdown, breakdown, ex::Format::csv, Lang::ru));
    check_golden("breakdown.en.json",
                 render(ex::write_breakdown, breakdown, ex::Format::json, Lang::en));
}

TEST_CASE("report export: XLSX sheets for indicators, warnings and breakdowns", "[export][xlsx]") {
    auto d = small_dataset();
    auto view = must(d->engine.read_view());
    storage::Database& db = view.database();
    test::TempDir out;
    auto report = must(ex::compute_indicators(db, small_plan(), {}));
    must(ex::export_indicators(report, ex::Format::xlsx, Lang::ru, out / "indicators.xlsx"));
    auto book = read_xlsx(out / "indicators.xlsx");
    REQUIRE(book["sheets"].size() == 3);
    CHECK(book["sheets"][0]["name"] == "индикаторы");
    CHECK(book["sheets"][0]["max_row"] == 10); // header + 9 indicators
    CHECK(book["sheets"][0]["rows"][3][0] == "participants");
    CHECK(book["sheets"][0]["rows"][3][3] == 19); // 17 attended + 2 consulted, no attendance
    CHECK(book["sheets"][1]["name"] == "предупреждения");
    CHECK(book["sheets"][1]["max_row"] == 1 + static_cast<int>(report.warnings.size()));
    CHECK(book["sheets"][1]["rows"][1][1]["is_date"] == true);
    CHECK(book["sheets"][2]["name"] == "справка");

    auto breakdown = must(ex::compute_breakdown(db, {}));
    must(ex::export_breakdown(breakdown, ex::Format::xlsx, Lang::kk, out / "breakdown.xlsx"));
    book = read_xlsx(out / "breakdown.xlsx");
    REQUIRE(book["sheets"].size() == 5);
    CHECK(book["sheets"][0]["name"] == "Гендерлік көрсеткіш");
    const auto& rows = book["sheets"][0]["rows"];
    CHECK(rows.size() == 5); // header, female, male, unrecorded, total
    CHECK(rows[4][0] == "total");
    CHECK(rows[4][2] == breakdown.participants);
}
