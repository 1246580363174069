// The lawyer's app with a year's work in the database (100,000 consultations by default):
// server time of the list page (a search, and no filter), of a save (without the commit it
// waits for, which is measured on its own), the weight of each page with its stylesheet and
// script, and the peak memory of the real `caravan ui` process. The baselines, in the same run:
// the engine's own listing of the same rows (no HTTP, no HTML) and the engine's own save.
//
//   ui_bench [--consultations N] [--quick]
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
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--consultations" && i + 1 < argc) {
            n = std::stoll(argv[++i]);
        } else if (a == "--quick") {
            n = 2000;
            rounds = 5;
        } else {
            std::cerr << "usage: ui_bench [--consultations N] [--quick]\n";
            return 2;
        }
    }
    print_title("ui_bench: the lawyer's app on " + std::to_string(n) + " consultations");
    print_machine();
    ScratchDir dir;
    const auto db = dir / "caravan.db";
    {
        auto engine = open_device(db);
        const double t0 = now_s();
        constexpr std::int64_t k_batch = 5000;
        for (std::int64_t done = 0; done < n; done += k_batch) {
            must(engine.batch([&]() -> Result<void> {
                     for (std::int64_t i = done; i < std::min(n, done + k_batch); ++i) {
                         auto added = engine.add_consultation(sample_consultation(static_cast<std::uint64_t>(i)));
                         if (!added) {
                             return tl::unexpected(added.error());
                         }
                     }
                     return {};
                 }),
                 "filling the database");
        }
        print_row("database filled", fmt(now_s() - t0, 1) + " s");
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
    std::vector<double> list_search, list_all, engine_list, save_ui, save_engine;
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
        // Baseline: the engine streams the same rows and stops at the same 200 matches.
        t = now_s();
        std::size_t matched = 0;
        must(baseline.list_consultations({}, [&](const client::Consultation& c) {
                 if (c.question.find(word) != std::string::npos ||
                     c.advice.find(word) != std::string::npos) {
                     ++matched;
                 }
                 return matched < 200;
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
