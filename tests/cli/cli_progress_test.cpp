// Progress lines of import, export and report: drawn on a terminal, absent otherwise.
// The terminal is a pseudo-terminal made by script(1) (util-linux, part of every Debian).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode;

namespace {

const std::filesystem::path k_journal =
    std::filesystem::path(CARAVAN_SOURCE_DIR) / "tests" / "fixtures" / "import" / "journal_kk.csv";

std::string quoted(const std::string& word) {
    std::string out = "'";
    for (char c : word) {
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return out + "'";
}

// `caravan --db DB ARGS...` with stdin, stdout and stderr on one pseudo-terminal; what the
// terminal showed (both streams, with their carriage returns).
std::string on_terminal(const std::filesystem::path& db, const std::vector<std::string>& args) {
    std::string command = quoted(test::binary("caravan").string()) + " --db " + quoted(db.string());
    for (const std::string& a : args) {
        command += " " + quoted(a);
    }
    auto r = test::run_process({"/usr/bin/script", "-qec", command, "/dev/null"});
    INFO(command << "\n" << r.out << r.err);
    REQUIRE_FALSE(r.timed_out);
    REQUIRE(r.exit_code == 0);
    return r.out;
}

// The command as a script runs it: stdout and stderr are pipes.
test::Outcome piped(const std::filesystem::path& db, const std::vector<std::string>& args) {
    auto r = test::run_cli(Mode::binary, db, args);
    INFO(r.err);
    REQUIRE(r.code == 0);
    return r;
}

bool shows(const std::string& screen, const std::string& words) {
    return screen.find("\r" + words + " ") != std::string::npos;
}

} // namespace

TEST_CASE("cli progress: import, export and report draw a progress line on a terminal only",
          "[cli][progress]") {
    test::TempDir dir;
    const auto db = dir / "d.db";
    test::run_cli_ok(Mode::in_process, db,
                     {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});

    SECTION("not a terminal: the summary alone, as before") {
        auto imported = piped(db, {"import", k_journal.string()});
        CHECK(imported.err.empty());
        CHECK(imported.out ==
              "rows: 4\nimported: 4\nalready present: 0\nvillages created: 2  "
              "Қызылжар (Ақтөбе обл.); Бестамақ (Ақтөбе обл.)\nvisits created: 2\n");
        auto exported = piped(db, {"export", "journal", "--all", "-o", (dir / "j.csv").string()});
        CHECK(exported.err.empty());
        CHECK(exported.out.find('\r') == std::string::npos);
        auto report = piped(db, {"report", "breakdown"});
        CHECK(report.err.empty());
        CHECK(report.out.find('\r') == std::string::npos);
    }

    SECTION("a terminal: the line in the chosen language, wiped before the summary") {
        auto imported = on_terminal(db, {"--lang", "ru", "import", k_journal.string()});
        CHECK(shows(imported, "проверено строк"));
        CHECK(shows(imported, "записано строк"));
        CHECK(imported.find("импортировано: 4") != std::string::npos);

        auto dry = on_terminal(db, {"--lang", "kk", "import", "--dry-run", k_journal.string()});
        CHECK(shows(dry, "тексерілген жолдар"));
        CHECK(shows(dry, "дерекқормен салыстырылған жолдар"));

        auto exported = on_terminal(
            db, {"--lang", "kk", "export", "journal", "--all", "-o", (dir / "j.xlsx").string()});
        CHECK(shows(exported, "жазылған жолдар"));

        auto breakdown = on_terminal(db, {"--lang", "ru", "report", "breakdown"});
        CHECK(shows(breakdown, "учтено выездов"));
        CHECK(breakdown.find("Статистика в разрезе участников") != std::string::npos);

        auto indicators = on_terminal(
            db,
            {"--lang", "kk", "report", "indicators", "--plan",
             (std::filesystem::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json").string(),
             "--from", "2024-01-01"});
        CHECK(shows(indicators, "есептелген сапарлар"));

        // Rows streamed to the terminal itself: no line among them.
        auto streamed = on_terminal(db, {"--lang", "ru", "export", "journal", "--all"});
        CHECK_FALSE(shows(streamed, "записано строк"));
        CHECK(streamed.find("Қызылжар") != std::string::npos);
    }
}
