// The command line and the journal import read enumeration spellings with one parser
// (Enumeration::index_of): a spelling `consult add` accepts, `import` accepts, and a spelling
// one refuses the other refuses too (regression: import accepted "молодежь" and labels without
// their parentheses while `consult add` refused them).

#include <catch2/catch.hpp>

#include <fstream>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

struct Field {
    std::string option; // consult add --OPTION
    std::string column; // import column code
};

// The consultation every probe records, with `field` spelled `spelling`.
std::map<std::string, std::string> values_with(const Field& field, const std::string& spelling) {
    std::map<std::string, std::string> v = {{"gender", "female"},
                                            {"age", "33-45"},
                                            {"category", "unemployed"},
                                            {"topic", "land"},
                                            {"outcome", "advice"}};
    v[field.option] = spelling;
    return v;
}

bool cli_accepts(const std::filesystem::path& db, const Field& field, const std::string& spelling) {
    auto v = values_with(field, spelling);
    auto r = run_cli(Mode::in_process, db,
                     {"consult", "add", "--gender", v["gender"], "--age", v["age"], "--category",
                      v["category"], "--topic", v["topic"], "--outcome", v["outcome"], "--question",
                      "q"});
    INFO("consult add: " << r.err);
    CHECK((r.code == 0 || r.code == 2));
    return r.code == 0;
}

std::string csv_cell(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        out += c == '"' ? std::string("\"\"") : std::string(1, c);
    }
    return out + "\"";
}

bool import_accepts(const test::TempDir& dir, const std::filesystem::path& db, const Field& field,
                    const std::string& spelling) {
    auto v = values_with(field, spelling);
    const auto file = dir / "probe.csv";
    std::ofstream(file, std::ios::binary)
        << "date,region,village,gender,age,category,topics,outcome\n"
        << "2024-05-14,Ақтөбе обл.,Қызылжар," << csv_cell(v["gender"]) << "," << csv_cell(v["age"])
        << "," << csv_cell(v["category"]) << "," << csv_cell(v["topic"]) << ","
        << csv_cell(v["outcome"]) << "\n";
    auto r = run_cli(Mode::in_process, db, {"import", "--dry-run", file.string()});
    INFO("import: " << r.out << r.err);
    CHECK((r.code == 0 || r.code == 2));
    return r.code == 0;
}

} // namespace

TEST_CASE("enumerations: consult add and import accept and refuse the same spellings",
          "[cli][import]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    test::init_device_at_visit(db);

    const std::vector<std::pair<Field, std::vector<std::string>>> probes = {
        {{"category", "category"},
         {"youth",
          "YOUTH",
          "  youth ",
          "молодёжь",
          "МОЛОДЁЖЬ",
          "молодежь",
          "жастар",
          "ЖАСТАР",
          "older people (50+)",
          "older people 50+",
          "жасы үлкен адамдар 50+",
          "пожилые люди (50+)",
          "older",
          "civil servants",
          "civil  servants",
          "youths",
          "молод",
          "older people (50",
          "unrecorded",
          "not recorded",
          "yuoth"}},
        {{"age", "age"}, {"33-45", "33–45", "59+", "59", "33 - 45", "көрсетілмеген", "0-13"}},
        {{"gender", "gender"}, {"female", "Әйел", "ЖЕНЩИНА", "Female", "f", "woman"}},
        {{"topic", "topics"}, {"land", "Жер", "жилье", "жильё", "e-gov", "taxes", "tax", "нало"}},
        {{"outcome", "outcome"},
         {"case", "case taken on", "ВЗЯТО НА ЗАЩИТУ", "кеңес берілді", "advised"}},
    };
    for (const auto& [field, spellings] : probes) {
        for (const std::string& spelling : spellings) {
            INFO(field.option << " = \"" << spelling << "\"");
            CHECK(cli_accepts(db, field, spelling) == import_accepts(dir, db, field, spelling));
        }
    }
    // The documented spellings (docs/cli.md, docs/import.md) are accepted by both.
    for (const char* spelling : {"молодежь", "жасы үлкен адамдар 50+", "YOUTH"}) {
        INFO(spelling);
        CHECK(cli_accepts(db, {"category", "category"}, spelling));
        CHECK(import_accepts(dir, db, {"category", "category"}, spelling));
    }
}
