// The lawyer's app with years of work in the database (100,000 consultations by default, 50 a
// visit, one visit a day):
// server time of the list page (a search, and no filter), of a save (without the commit it
// waits for, which is measured on its own), the weight of each page with its stylesheet and
// script, and the peak memory of the real `caravan ui` process. The baselines, in the same run:
// the engine's own listing of the same rows (no HTTP, no HTML) and the engine's own save.
// Text searches of three letters or more go through the consultations' text index (FTS5
// trigrams): the bench also times opening a copy of the database without it (an upgrade, which
// builds it) and a two-letter search, which still reads every row.
//
//   ui_bench [--consultations N] [--quick] [--db PATH]
//
// --db keeps the database at PATH (filled on the first run, reused after) for a look with
// sqlite3; without it the database lives in a scratch folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include <httplib.h>

#include "caravan/client/engine.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/ui/server.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;

namespace {

// A session on the app, as a browser holds one.
struct Browser {
    httplib::Client http;
    std::string cookie, csrf;
    explicit Browser(int port) : http("127.0.0.1", port) { http.set_read_timeout(120, 0); }
    bool open(const std::string& url) {
        auto res = http.Get(url.substr(url.find("/?")).c_str());
        if (!res || res->status != 303) {
            return false;
        }
        const std::string set = res->get_header_value("Set-Cookie");
        cookie = set.substr(0, set.find(';'));
        return get("/consult/new").status == 200;
    }
    httplib::Response get(const std::string& path) {
        auto res = http.Get(path.c_str(), httplib::Headers{{"Cookie", cookie}});
        if (!res) {
            std::cerr << "GET " << path << " failed\n";
            std::exit(1);
        }
        static const std::regex token(R"re(name="csrf" value="([0-9a-f]+)")re");
        std::smatch m;
        if (std::regex_search(res->body, m, token)) {
            csrf = m[1];
        }
        return *res;
    }
    httplib::Response post(const std::string& path, httplib::Params fields) {
        fields.emplace("csrf", csrf);
        auto res = http.Post(path.c_str(), httplib::Headers{{"Cookie", cookie}}, fields);
        if (!res) {
            std::cerr << "POST " << path << " failed\n";
            std::exit(1);
        }
        return *res;
    }
};

httplib::Params form_of(const client::ConsultationInput& c) {
    httplib::Params p{{"gender", c.person.gender}, {"age", c.person.age},
                      {"category", c.person.category}, {"outcome", c.outcome},
                      {"question", c.question}, {"advice", c.advice}};
    for (const auto& t : c.topics) {
        p.emplace("topic", t);
    }
    return p;
}

long vm_hwm_kb(int pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmHWM:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

} // namespace

int main(int argc, char** argv) {
    std::int64_t n = 100000;
    int rounds = 20;
    std::filesystem::path kept;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--consultations" && i + 1 < argc) {
            n = std::stoll(argv[++i]);
        } else if (a == "--quick") {
            n = 2000;
            rounds = 5;
        } else if (a == "--db" && i + 1 < argc) {
            kept = argv[++i];
        } else {
            std::cerr << "usage: ui_bench [--consultations N] [--quick] [--db PATH]\n";
            return 2;
        }
    }
    print_title("ui_bench: the lawyer's app on " + std::to_string(n) + " consultations");
    print_machine();
    ScratchDir dir;
    const auto db = kept.empty() ? dir / "caravan.db" : kept;
    if (!std::filesystem::exists(db)) {
        auto engine = open_device(db);
        const double t0 = now_s();
        // A day's work a visit: 50 consultations, then the next day's visit.
        constexpr std::int64_t k_per_visit = 50;
        const auto first_day = std::chrono::sys_days{std::chrono::year{2019} / 1 / 1};
        for (std::int64_t done = 0; done < n; done += k_per_visit) {
            must(engine.batch([&]() -> Result<void> {
                     if (done > 0) {
                         const std::chrono::year_month_day day{
                             first_day + std::chrono::days{done / k_per_visit}};
                         char date[16];
                         std::snprintf(date, sizeof date, "%04d-%02u-%02u", int(day.year()),
                                       unsigned(day.month()), unsigned(day.day()));
                         CARAVAN_TRY_VOID(engine.close_visit(std::nullopt));
                         CARAVAN_TRY_VOID(engine.start_visit("Қызылжар", std::string(date)));
                     }
                     for (std::int64_t i = done; i < std::min(n, done + k_per_visit); ++i) {
                         CARAVAN_TRY_VOID(engine.add_consultation(
                             sample_consultation(static_cast<std::uint64_t>(i))));
                     }
                     return {};
                 }),
                 "filling the database");
        }
        print_row("database filled", fmt(now_s() - t0, 1) + " s");
    }

    // ---- the upgrade of a database from before the text index: the index built on opening ----
    {
        const auto old = dir / "before-index.db";
        {
            client::EngineOptions existing;
            existing.create = false;
            auto source = must(client::Engine::open(db, existing), "opening the database");
            must(source.backup(old), "copying the database");
        }
        {
            auto raw = must(storage::Database::open(old), "opening the copy");
            must(raw.exec("DROP TABLE consultation_text; DROP TRIGGER consultation_text_insert;"
                          " DROP TRIGGER consultation_text_delete;"
                          " DROP TRIGGER consultation_text_update;"
                          " DELETE FROM caravan_schema WHERE component = 'search'; VACUUM"),
                 "removing the index from the copy");
        }
        const auto bytes_before = std::filesystem::file_size(old);
        client::EngineOptions upgrade;
        upgrade.create = false;
        const double t0 = now_s();
        (void)must(client::Engine::open(old, upgrade), "opening the copy");
        print_row("upgrade: first open builds the text index", fmt(now_s() - t0, 2) + " s");
        print_row("  database size without / with the index",
                  std::to_string(bytes_before >> 20) + " / " +
                      std::to_string(std::filesystem::file_size(old) >> 20) + " MB");
    }

    // ---- in-process: server time per request, next to the engine alone -----------------------
    ui::UiOptions options;
    options.database = db;
    options.lang = client::Lang::kk;
    auto server = must(ui::UiServer::start(options), "starting the app");
    Browser browser(server->port());
    if (!browser.open(server->launch_url())) {
        std::cerr << "could not open a session\n";
        return 1;
    }
    // A word that occurs in some questions: the list scans for it like a person's search.
    const std::string word = "жер";
    std::vector<double> list_search, list_all, list_nothing, list_nothing_cpu, list_short,
        list_short_cpu, list_topic, engine_list, save_ui, save_engine;
    std::size_t list_bytes = 0, form_bytes = 0;
    client::EngineOptions eo;
    eo.create = false;
    auto baseline = must(client::Engine::open(db, eo), "opening the baseline engine");
    for (int r = 0; r < rounds; ++r) {
        double t = now_s();
        auto page = browser.get("/consultations?q=%D0%B6%D0%B5%D1%80");
        list_search.push_back(now_s() - t);
        list_bytes = page.body.size();
        t = now_s();
        (void)browser.get("/consultations");
        list_all.push_back(now_s() - t);
        // A word no consultation holds: before the text index every row was read and compared.
        // Its CPU time too (client and server are this process): on a loaded machine the wall
        // time mostly measures the wait for a core.
        t = now_s();
        const double cpu0 = cpu_s();
        (void)browser.get("/consultations?q=%D0%BD%D0%BE%D1%82%D0%B0%D1%80%D0%B8%D1%83%D1%81");
        list_nothing_cpu.push_back(cpu_s() - cpu0);
        list_nothing.push_back(now_s() - t);
        // Two letters found nowhere: too short for the index (it holds trigrams), so every
        // row is read.
        t = now_s();
        const double cpu1 = cpu_s();
        (void)browser.get("/consultations?q=qz");
        list_short_cpu.push_back(cpu_s() - cpu1);
        list_short.push_back(now_s() - t);
        t = now_s();
        (void)browser.get("/consultations?topic=domestic-violence&outcome=case");
        list_topic.push_back(now_s() - t);
        // Baseline: the engine streams the same rows (newest first, the same search) and stops
        // at the same 201st match, without HTTP or HTML.
        t = now_s();
        std::size_t matched = 0;
        client::ConsultationFilter same;
        same.text = word;
        same.newest_first = true;
        must(baseline.list_consultations(same, [&](const client::Consultation&) {
                 return ++matched <= 200;
             }),
             "baseline listing");
        engine_list.push_back(now_s() - t);

        t = now_s();
        auto saved = browser.post("/consult", form_of(sample_consultation(1000000 + r)));
        save_ui.push_back(now_s() - t);
        if (saved.status != 303) {
            std::cerr << "a save was refused: " << saved.status << "\n";
            return 1;
        }
        t = now_s();
        (void)must(baseline.add_consultation(sample_consultation(2000000 + r)), "baseline save");
        save_engine.push_back(now_s() - t);
    }
    form_bytes = browser.get("/consult/new").body.size();
    const std::size_t css = browser.get("/static/app.css").body.size();
    const std::size_t js = browser.get("/static/app.js").body.size();
    print_row("list page, search (server time)", fmt_ms(summarize(list_search)));
    print_row("list page, no filter (server time)", fmt_ms(summarize(list_all)));
    print_row("list page, a word found nowhere (the index)", fmt_ms(summarize(list_nothing)));
    print_row("  the same, CPU time of client and server", fmt_ms(summarize(list_nothing_cpu)));
    print_row("list page, two letters found nowhere (every row read)",
              fmt_ms(summarize(list_short)));
    print_row("  the same, CPU time of client and server", fmt_ms(summarize(list_short_cpu)));
    print_row("list page, topic and outcome (server time)", fmt_ms(summarize(list_topic)));
    print_row("baseline: engine listing, same search", fmt_ms(summarize(engine_list)));
    print_row("ratio list search / baseline (p50)",
              fmt(summarize(list_search).p50 / std::max(1e-6, summarize(engine_list).p50)));
    print_row("save a consultation (HTTP + engine + commit)", fmt_ms(summarize(save_ui)));
    print_row("baseline: engine save with its commit", fmt_ms(summarize(save_engine)));
    print_row("ratio save / baseline (p50)",
              fmt(summarize(save_ui).p50 / std::max(1e-6, summarize(save_engine).p50)));
    print_row("page weight: list + css + js", std::to_string((list_bytes + css + js) / 1024) + " KB");
    print_row("page weight: form + css + js", std::to_string((form_bytes + css + js) / 1024) + " KB");
    server.reset();

    // ---- the real process: its peak memory while serving the same pages ----------------------
    const auto out = dir / "ui.out";
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        execl(caravan_exe().c_str(), "caravan", "--db", db.c_str(), "ui", "--no-browser",
              static_cast<char*>(nullptr));
        _exit(127);
    }
    std::string url;
    for (int i = 0; i < 200 && url.empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::ifstream in(out);
        std::string text((std::istreambuf_iterator<char>(in)), {});
        if (const auto at = text.find("http://127.0.0.1:"); at != std::string::npos) {
            url = text.substr(at, text.find_first_of(" \n", at) - at);
        }
    }
    long peak = -1;
    if (!url.empty()) {
        Browser real(std::stoi(url.substr(17, url.find('/', 17) - 17)));
        if (real.open(url)) {
            for (int r = 0; r < rounds; ++r) {
                (void)real.get("/consultations?q=%D0%B6%D0%B5%D1%80");
                (void)real.get("/consultations");
                (void)real.post("/consult", form_of(sample_consultation(3000000 + r)));
            }
            peak = vm_hwm_kb(pid);
        }
    }
    kill(pid, SIGTERM);
    int status = 0;
    waitpid(pid, &status, 0);
    print_row("caravan ui peak memory (VmHWM)", peak < 0 ? "not measured" : std::to_string(peak / 1024) + " MB");
    print_load();
    return 0;
}
