// Every command's human output and errors under --lang kk and --lang ru: no English word a
// person reads, outside the documented exceptions (docs/cli.md, Languages): option names, codes
// typed or stored (enumeration and error codes), ids, paths and file names, commands quoted in
// backticks, and technical detail in parentheses passed on from the system.
//
// Runs the real binary over a prepared database (records, a conflict, a deleted consultation)
// and against a real caravan-server for sync.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "../sync/e2e_support.hpp"
#include "cli_helpers.hpp"
#include "conflict_fixture.hpp"
#include "temp_dir.hpp"

using namespace caravan;

namespace {

// Words that stay as they are in every language: the program's name, codes and formats, and
// the placeholders of a command quoted in a message.
const std::set<std::string> k_exceptions = {
    "caravan", "id", "UTC", "kk", "ru", "en", "csv", "json", "jsonl", "xlsx", "server_seq", "HH",
    "MM", "YYYY", "DD", "YYYY-MM-DD", "URL", "CODE", "ID", "FILE", "NEW_FILE", "BACKUP", "NAME",
    "systemd", "cron", "CARAVAN_DB", "REGION", "PEM", "GPS", "CSV", "JSON", "Lines", "XLSX", "CA",
    "stdout", "http", "https", "auto", "text", "lawyer", "coordinator", "advice", "referred",
    "document", "case", "land", "XDG_DATA_HOME", "CARAVAN_DB",
    // the protocol's refusal codes, as status names them (docs/protocol.md 6.3)
    "out_of_scope", "parent_rejected", "parent_unknown", "invalid_event",
    // names of positional arguments in --help (like option names)
    "file", "files", "id", "visit", "name",
    // enumeration codes listed as the accepted values
    "female", "male", "unrecorded", "children", "youth", "civil-servant", "public-sector",
    "disability", "older", "unemployed", "ngo", "business", "other"};

bool has_cyrillic(std::string_view text) {
    for (unsigned char c : text) {
        if (c >= 0xD0 && c <= 0xD4) {
            return true;
        }
    }
    return false;
}

// Removes the spans the exceptions allow: `quoted commands`, 'what the user typed' (an unknown
// command or value, named back), and (detail) in parentheses with no Cyrillic in it.
std::string without_exempt_spans(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '`' || text[i] == '\'') {
            const auto end = text.find(text[i], i + 1);
            if (end != std::string::npos) {
                i = end;
                continue;
            }
        }
        if (text[i] == '(') {
            const auto end = text.find(')', i + 1);
            if (end != std::string::npos && !has_cyrillic(text.substr(i, end - i))) {
                i = end;
                continue;
            }
        }
        out += text[i];
    }
    return out;
}

// Command names, as --help lists them and shows them in its usage line (like option names).
const std::set<std::string> k_command_names = {
    "attend",  "add",    "backup",     "check",    "close",   "conflicts", "consult",  "edit",
    "history", "rm",     "show",       "undelete", "current", "enroll",    "export",   "journal",
    "import",  "init",   "list",       "photo",    "restore", "salvage",   "schedule", "install",
    "remove",  "status", "survey",     "sync",     "log",     "ui",        "village",  "visit",
    "start",   "report", "indicators", "breakdown"};

// The English words of `text` outside the exceptions (and `commands`, when given).
std::vector<std::string> english_words(const std::string& text,
                                       const std::set<std::string>& commands = {}) {
    std::vector<std::string> found;
    std::string token;
    auto judge = [&] {
        // Options, paths, file names, ids, dates and numbers are not words.
        // An id fragment typed back (hex digits only) is not a word either.
        const bool exempt =
            token.empty() || token.front() == '-' ||
            token.find_first_of("/.@0123456789{}=") != std::string::npos ||
            (token.size() >= 4 && token.find_first_not_of("0123456789abcdef") == std::string::npos);
        if (!exempt) {
            std::string word;
            auto flush = [&] {
                while (!word.empty() && (word.back() == '-' || word.back() == '_')) {
                    word.pop_back();
                }
                if (word.size() >= 2 && !k_exceptions.contains(word) && !commands.contains(word)) {
                    found.push_back(word);
                }
                word.clear();
            };
            for (char c : token) {
                const bool latin = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                if (latin || (!word.empty() && (c == '_' || c == '-'))) {
                    word += c;
                } else {
                    flush();
                }
            }
            flush();
        }
        token.clear();
    };
    for (char c : without_exempt_spans(text)) {
        if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == ',' || c == ';' || c == ':' ||
            c == '\'' || c == '"') {
            judge();
        } else {
            token += c;
        }
    }
    judge();
    return found;
}

struct Invocation {
    std::vector<std::string> args;
    bool succeeds = true;
    bool help = false; // --help: command names may appear
};

// Runs every invocation in kk and ru on `db` and fails on each English word printed.
void check_language(const std::filesystem::path& db, const std::vector<Invocation>& table) {
    for (const std::string lang : {"kk", "ru"}) {
        for (const Invocation& inv : table) {
            std::vector<std::string> args = {"--lang", lang};
            args.insert(args.end(), inv.args.begin(), inv.args.end());
            auto r = test::run_cli(test::Mode::binary, db, args);
            std::string shown_args;
            for (const auto& a : args) {
                shown_args += a + " ";
            }
            INFO("caravan " << shown_args << "\nexit " << r.code << "\nstdout:\n"
                            << r.out << "stderr:\n"
                            << r.err);
            CHECK((r.code == 0) == inv.succeeds);
            CHECK_FALSE((r.out.empty() && r.err.empty()));
            CHECK(english_words(r.out + "\n" + r.err,
                                inv.help ? k_command_names : std::set<std::string>{}) ==
                  std::vector<std::string>{});
        }
    }
}

const std::filesystem::path k_fixtures = std::filesystem::path(CARAVAN_SOURCE_DIR) / "tests";

} // namespace

TEST_CASE("language: the detector finds English words and lets the exceptions through",
          "[cli][language]") {
    CHECK(english_words("sync ok: pushed 3") == std::vector<std::string>{"sync", "ok", "pushed"});
    CHECK(english_words("жынысы: 'fem' — жарамсыз мән; рұқсат етілгендері: female, male, "
                        "unrecorded")
              .empty());
    CHECK(english_words("`caravan enroll --server URL` (Connection refused) --region d.db "
                        "01a2483b")
              .empty());
    CHECK(english_words("(кейін ауыстырылды) superseded") ==
          std::vector<std::string>{"superseded"});
}

TEST_CASE("language: every command's human output and errors are Kazakh or Russian",
          "[cli][language]") {
    test::TempDir dir;
    const std::string id = test::concurrent_outcomes(dir); // b.db: a conflict
    const auto db = dir / "b.db";
    const std::string short_id = id.substr(id.size() - 8);
    test::run_cli_ok(test::Mode::binary, db,
                     {"village", "add", "Бестамақ", "--region", "Ақмола обл."});
    test::run_cli_ok(test::Mode::binary, db,
                     {"visit", "start", "--village", "Бестамақ", "--date", "2024-05-15"});
    test::run_cli_ok(test::Mode::binary, db,
                     {"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                      "unemployed", "--count", "4"});
    auto added = test::one_json_document(
        test::run_cli_ok(test::Mode::binary, db,
                         {"--json", "consult", "add", "--gender", "male", "--age", "59+",
                          "--category", "older", "--topic", "land", "--outcome", "advice",
                          "--question", "Жер телімі", "--advice", "Әкімдікке бару", "--lang", "kk"})
            .out);
    const std::string other = added["id"].get<std::string>();
    const std::string other_short = other.substr(other.size() - 8);
    const auto plan =
        (std::filesystem::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json").string();
    const auto journal = (k_fixtures / "fixtures/import/journal_kk.csv").string();
    const auto missing = (dir / "missing.db").string();

    check_language(
        db,
        {
            {{"status"}},
            {{"village", "list"}},
            {{"visit", "list"}},
            {{"visit", "current"}},
            {{"consult", "list"}},
            {{"consult", "show", short_id}},
            {{"consult", "history", short_id}},
            {{"consult", "history", other_short}}, // created, deleted, restored
            {{"consult", "edit", short_id, "--outcome", "document"}},
            {{"conflicts"}},
            {{"check"}},
            {{"backup", (dir / "backup.db").string()}},
            {{"import", "--dry-run", journal}},
            {{"export", "journal", "--all", "-o", (dir / "j.xlsx").string()}},
            {{"report", "breakdown"}},
            {{"report", "indicators", "--plan", plan}},
            {{"visit", "start", "--village", "Бестамақ", "--date", "2024-05-16"}},
            {{"consult", "rm", other_short}},
            {{"consult", "undelete", other_short}},
            // errors
            {{"frobnicate"}, false},
            {{"consult"}, false},
            {{"status", "--bogus"}, false},
            {{"village", "add", "Жаңаауыл"}, false},
            {{"attend", "add", "--gender", "fem", "--age", "33-45", "--category", "older"}, false},
            {{"attend", "add", "--gender", "female", "--age", "33-45", "--category", "older",
              "--count", "many"},
             false},
            {{"visit", "start", "--village", "Жоқауыл"}, false},
            {{"visit", "start", "--village", "Бестамақ", "--date", "1999-01-01"}, false},
            {{"consult", "list", "--from", "2024-5-1"}, false},
            {{"consult", "show", "ffffffff"}, false},
            {{"sync"}, false},
            {{"schedule", "status"}, false},
            {{"import", (dir / "nothing.csv").string()}, false},
            {{"report", "indicators", "--plan", (dir / "nothing.json").string()}, false},
            {{"--db", missing, "status"}, false},
            {{"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."}, false},
        });
}

TEST_CASE("language: --help of every command is Kazakh or Russian", "[cli][language]") {
    test::TempDir dir;
    std::vector<Invocation> table;
    for (const std::vector<std::string>& command :
         std::vector<std::vector<std::string>>{{},
                                               {"init"},
                                               {"status"},
                                               {"conflicts"},
                                               {"check"},
                                               {"backup"},
                                               {"restore"},
                                               {"salvage"},
                                               {"import"},
                                               {"enroll"},
                                               {"ui"},
                                               {"village"},
                                               {"village", "add"},
                                               {"village", "list"},
                                               {"visit"},
                                               {"visit", "start"},
                                               {"visit", "close"},
                                               {"visit", "list"},
                                               {"visit", "current"},
                                               {"attend"},
                                               {"attend", "add"},
                                               {"consult"},
                                               {"consult", "add"},
                                               {"consult", "edit"},
                                               {"consult", "rm"},
                                               {"consult", "undelete"},
                                               {"consult", "list"},
                                               {"consult", "show"},
                                               {"consult", "history"},
                                               {"survey"},
                                               {"survey", "add"},
                                               {"photo"},
                                               {"photo", "add"},
                                               {"sync"},
                                               {"sync", "log"},
                                               {"schedule"},
                                               {"schedule", "install"},
                                               {"schedule", "status"},
                                               {"schedule", "remove"},
                                               {"export"},
                                               {"export", "journal"},
                                               {"report"},
                                               {"report", "indicators"},
                                               {"report", "breakdown"}}) {
        Invocation help{command, true, true};
        help.args.push_back("--help");
        table.push_back(help);
    }
    check_language(dir / "none.db", table);
}

TEST_CASE("language: sync, its log and status against a real server are Kazakh or Russian",
          "[cli][language]") {
    test::TempDir dir;
    test::e2e::Server server(dir / "server");
    test::e2e::Laptop laptop(dir / "l.db");
    // A village outside the lawyer's region, added before enrolling: the server refuses it and
    // status lists it as quarantined.
    laptop.must({"init", "--lawyer", "Арнат Ұлтанбаев", "--region", test::e2e::k_region});
    laptop.must({"village", "add", "Алыс ауыл", "--region", "Абай обл."});
    laptop.must({"enroll", "--server", server.url(), "--code",
                 server.code("Арнат Ұлтанбаев", {test::e2e::k_region})});
    laptop.start_field_day();
    laptop.must({"attend", "add", "--gender", "female", "--age", "33-45", "--category",
                 "unemployed", "--count", "3"});
    check_language(laptop.db(),
                   {
                       {{"sync", "--verify"}},
                       {{"sync", "log"}},
                       {{"status"}}, // quarantined: the village
                       {{"schedule", "status"}, false},
                       {{"enroll", "--server", server.url(), "--code", "AAA-BBB-CCC"}, false},
                   });
    // The quarantined village was listed (so its line was read above).
    auto status = test::run_cli(test::Mode::binary, laptop.db(), {"--lang", "ru", "status"});
    CHECK_THAT(status.out,
               Catch::Contains("отклонено сервером: село ") && Catch::Contains(": out_of_scope ("));
}
