// The XLSX files Caravan writes, printed (issue 14, "Exports on paper and back in"): each is
// converted to PDF by LibreOffice headless (`soffice --convert-to pdf`, Debian's
// libreoffice-calc-nogui, installed by scripts/install-deps.sh) and the PDF is read back with
// poppler-utils: every page one sheet wide (the first and the last header on every page), the
// journal landscape and short, no two words drawn over each other (wrapped text that does not
// fit its row overlaps the next one), and every word of every cell present.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "app.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/xlsx_reader.hpp"
#include "must.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
namespace fs = std::filesystem;

namespace {

std::optional<fs::path> find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        fs::path candidate = fs::path(dir) / name;
        std::error_code ec;
        if (fs::exists(candidate, ec)) {
            return candidate;
        }
    }
    return std::nullopt;
}

int run_caravan(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.string()});
    std::ostringstream out, err;
    int code = cli::run(args, out, err);
    INFO(err.str());
    CHECK(code == 0);
    return code;
}

const std::vector<std::string> k_questions = {
    "Жер телімінің шекарасы туралы көршімен дау, аудандық әкімдікке жазылған өтініш жауапсыз "
    "қалды, сотқа жүгіну мүмкіндігі сұралды",
    "Алимент өндіру: бұрынғы жұбайы екі жылдан бері төлемейді",
    "Зейнетақы тағайындау үшін еңбек өтілін растайтын құжаттар жоқ",
    "Мұрагерлік: әкесінен қалған үйді ресімдеу тәртібі",
    "Кредит бойынша берешек және коллекторлардың қоңыраулары",
    "Мүгедектік бойынша жәрдемақы тоқтатылды",
    "Жұмыс берушi жалақыны үш ай бойы төлемеген",
    "Тұрғын үй кезегіне тұру",
    "Неке бұзу және балалардың тұрғылықты жері",
    "Жер салығы бойынша хабарлама қате есептелген",
    "Әлеуметтік көмек алу үшін қажетті құжаттар тізімі",
};

// Eleven consultations at one visit (the journal of the issue), with attendance for reports.
void populate(const fs::path& db) {
    client::Engine e = must(client::Engine::open(db));
    must(e.init("Ұлтанбаев Арнат Серікұлы", "Ақтөбе обл."));
    must(e.add_village({"Қызылжар", "Ақтөбе обл.", std::string("Мұғалжар ауданы"), std::nullopt,
                        std::nullopt}));
    must(e.start_visit("Қызылжар", std::string("2024-05-14")));
    must(e.add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 12}));
    for (std::size_t i = 0; i < k_questions.size(); ++i) {
        client::ConsultationInput in;
        in.person = {i % 2 ? "male" : "female", "33-45", i % 3 ? "unemployed" : "older",
                     i % 2 == 0};
        in.topics = {"land", "family", "benefits"};
        in.outcome = i % 2 ? "advice" : "referred";
        in.question = k_questions[i];
        in.advice = "Құқықтық негіз түсіндірілді, арыз үлгісі берілді";
        in.follow_up = i % 2 == 0;
        must(e.add_consultation(in));
    }
    must(e.add_survey({std::nullopt, 12, 11}));
    must(e.close_visit(std::nullopt));
}

struct Word {
    std::string text;
    double x0, y0, x1, y1;
};

// The words of each page, from `pdftotext -bbox`.
std::vector<std::vector<Word>> pdf_words(const fs::path& pdf, const fs::path& html) {
    auto r = test::run_process({find_program("pdftotext").value().string(), "-bbox", pdf.string(),
                                html.string()});
    REQUIRE(r.exit_code == 0);
    std::string text = test::read_file(html);
    std::vector<std::vector<Word>> pages;
    static const std::regex word_re(
        R"re(<word xMin="([0-9.]+)" yMin="([0-9.]+)" xMax="([0-9.]+)" yMax="([0-9.]+)">([^<]*)</word>)re");
    std::size_t at = 0;
    while ((at = text.find("<page", at)) != std::string::npos) {
        std::size_t end = text.find("</page>", at);
        std::string page = text.substr(at, end - at);
        std::vector<Word> words;
        for (auto it = std::sregex_iterator(page.begin(), page.end(), word_re);
             it != std::sregex_iterator(); ++it) {
            words.push_back({(*it)[5], std::stod((*it)[1]), std::stod((*it)[2]),
                             std::stod((*it)[3]), std::stod((*it)[4])});
        }
        pages.push_back(std::move(words));
        at = end;
    }
    return pages;
}

std::string unescape(std::string s) {
    for (auto [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""},
                            {"&lt;", "<"},
                            {"&gt;", ">"},
                            {"&apos;", "'"},
                            {"&amp;", "&"}}) {
        for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) {
            s.replace(p, from.size(), to);
        }
    }
    return s;
}

// Two words drawn over each other (by more than a sliver).
std::optional<std::string> overlap(const std::vector<Word>& words) {
    for (std::size_t i = 0; i < words.size(); ++i) {
        for (std::size_t j = i + 1; j < words.size(); ++j) {
            const Word& a = words[i];
            const Word& b = words[j];
            double w = std::min(a.x1, b.x1) - std::max(a.x0, b.x0);
            double h = std::min(a.y1, b.y1) - std::max(a.y0, b.y0);
            if (w > 1.0 && h > 0.35 * std::min(a.y1 - a.y0, b.y1 - b.y0)) {
                return a.text + " / " + b.text;
            }
        }
    }
    return std::nullopt;
}

struct Printed {
    int pages = 0;
    bool landscape = false;
    std::vector<std::vector<Word>> words;
    std::set<std::string> all_words;
};

Printed print(const fs::path& pdf) {
    Printed p;
    auto info = test::run_process({find_program("pdfinfo").value().string(), pdf.string()});
    REQUIRE(info.exit_code == 0);
    std::smatch m;
    REQUIRE(std::regex_search(info.out, m, std::regex(R"(Pages:\s+(\d+))")));
    p.pages = std::stoi(m[1]);
    REQUIRE(std::regex_search(info.out, m, std::regex(R"(Page size:\s+([0-9.]+) x ([0-9.]+))")));
    p.landscape = std::stod(m[1]) > std::stod(m[2]);
    p.words = pdf_words(pdf, fs::path(pdf).replace_extension(".html"));
    for (const auto& page : p.words) {
        for (const Word& w : page) {
            p.all_words.insert(unescape(w.text));
        }
    }
    return p;
}

// Every word of `text` (split at spaces, punctuation kept) was printed.
void check_words_printed(const Printed& p, const std::string& text) {
    std::istringstream in(text);
    std::string word;
    while (in >> word) {
        INFO("word: " << word << " of: " << text);
        CHECK(p.all_words.count(word) == 1);
    }
}

} // namespace

TEST_CASE("print: every XLSX export prints one page wide, headers repeated, nothing overlapping",
          "[cli][export][xlsx][print]") {
    auto soffice = find_program("soffice");
    if (!soffice || !find_program("pdftotext") || !find_program("pdfinfo")) {
        WARN("SKIPPED: soffice (libreoffice-calc-nogui) or pdftotext/pdfinfo (poppler-utils) is "
             "not installed; scripts/install-deps.sh installs them");
        return;
    }
    test::TempDir dir;
    fs::path db = dir / "device.db";
    populate(db);
    const fs::path plan = fs::path(CARAVAN_SOURCE_DIR) / "docs/examples/plan-2024.json";
    std::vector<std::string> files;
    for (std::string lang : {"kk", "ru"}) {
        std::string j = (dir / ("journal-" + lang + ".xlsx")).string();
        std::string i = (dir / ("indicators-" + lang + ".xlsx")).string();
        std::string b = (dir / ("breakdown-" + lang + ".xlsx")).string();
        run_caravan(db, {"--lang", lang, "export", "journal", "--all", "-o", j});
        run_caravan(db, {"--lang", lang, "report", "indicators", "--plan", plan.string(), "-o", i});
        run_caravan(db, {"--lang", lang, "report", "breakdown", "-o", b});
        files.insert(files.end(), {j, i, b});
    }
    // One conversion for all files; LibreOffice gets its own profile, so parallel runs do not
    // share (and lock) one.
    fs::path pdfs = dir / "pdf";
    std::vector<std::string> argv = {soffice->string(),
                                     "--headless",
                                     "--norestore",
                                     "-env:UserInstallation=file://" + (dir / "lo").string(),
                                     "--convert-to",
                                     "pdf",
                                     "--outdir",
                                     pdfs.string()};
    argv.insert(argv.end(), files.begin(), files.end());
    auto converted = test::run_process(argv, {{"HOME", dir.path().string()}}, {},
                                       std::chrono::seconds(180));
    INFO(converted.out << converted.err);
    REQUIRE(converted.exit_code == 0);
    if (const char* keep = std::getenv("CARAVAN_PRINT_OUT")) { // to look at the pages
        fs::create_directories(keep);
        for (const auto& f : fs::directory_iterator(pdfs)) {
            fs::copy_file(f.path(), fs::path(keep) / f.path().filename(),
                          fs::copy_options::overwrite_existing);
        }
        for (const std::string& f : files) {
            fs::copy_file(f, fs::path(keep) / fs::path(f).filename(),
                          fs::copy_options::overwrite_existing);
        }
    }

    for (std::string lang : {"kk", "ru"}) {
        {
            INFO("journal " << lang);
            Printed p = print(pdfs / ("journal-" + lang + ".pdf"));
            CHECK(p.landscape);
            CHECK(p.pages <= 3); // 11 rows; it was 16 portrait pages
            const std::string first = lang == "kk" ? "№" : "№";
            const std::string last = lang == "kk" ? "тілі" : "консультации";
            for (std::size_t page = 0; page < p.words.size(); ++page) {
                INFO("page " << page + 1);
                bool has_first = false, has_last = false;
                for (const Word& w : p.words[page]) {
                    has_first |= w.text == first;
                    has_last |= w.text == last;
                }
                CHECK(has_first); // every page holds the whole width, with its header
                CHECK(has_last);
                auto clash = overlap(p.words[page]);
                CHECK_FALSE(clash);
                if (clash) {
                    WARN("overlapping words: " << *clash);
                }
            }
            for (const std::string& q : k_questions) {
                check_words_printed(p, q);
            }
            check_words_printed(p, "Құқықтық негіз түсіндірілді, арыз үлгісі берілді");
            check_words_printed(p, "Ұлтанбаев Арнат Серікұлы Мұғалжар ауданы Қызылжар");
        }
        {
            INFO("reports " << lang);
            for (std::string name : {"indicators-" + lang, "breakdown-" + lang}) {
                INFO(name);
                Printed p = print(pdfs / (name + ".pdf"));
                for (std::size_t page = 0; page < p.words.size(); ++page) {
                    INFO("page " << page + 1);
                    auto clash = overlap(p.words[page]);
                    CHECK_FALSE(clash);
                    if (clash) {
                        WARN("overlapping words: " << *clash);
                    }
                }
            }
            // The indicator table's plan and fact columns are on its first page.
            Printed ind = print(pdfs / ("indicators-" + lang + ".pdf"));
            bool plan_and_fact = false;
            for (const Word& w : ind.words.at(0)) {
                plan_and_fact |= w.text == (lang == "kk" ? "факт" : "факт");
            }
            CHECK(plan_and_fact);
        }
    }

    // Sheet names end at a word; the participants on the "about" sheet are a number.
    auto book = must(client::XlsxReader::open(dir / "breakdown-kk.xlsx"));
    for (const std::string& name : book.sheet_names()) {
        INFO(name);
        CHECK(name != "Санаттар бойынша әлеуметтік мәр");
    }
    CHECK(std::find(book.sheet_names().begin(), book.sheet_names().end(),
                    "Санаттар бойынша әлеуметтік") != book.sheet_names().end());
    std::size_t about = book.sheet_names().size() - 1;
    must(book.select_sheet(about));
    client::XlsxRow row;
    bool participants_numeric = false;
    while (must(book.next_row(row))) {
        if (row.cells.size() > 1 && row.cells[0].text == "Барлық қатысушылар саны") {
            participants_numeric = row.cells[1].number && row.cells[1].text == "12";
        }
    }
    CHECK(participants_numeric);
}
