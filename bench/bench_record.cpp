// Latency of recording ONE consultation durably (its own transaction, fsync'd), as a lawyer does
// during a visit: through the Engine API, and through the `caravan consult add` process.
// Baseline in the same run: a bare SQLite INSERT + COMMIT with the same pragmas (WAL,
// synchronous=FULL), interleaved with the engine's adds in rounds.
//
//   bench_record [ENGINE_ADDS=500] [CLI_ADDS=100]

#include <cstdlib>
#include <iostream>

#include "caravan/client/ids.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;

int main(int argc, char** argv) {
    const int engine_adds = argc > 1 ? std::atoi(argv[1]) : 500;
    const int cli_adds = argc > 2 ? std::atoi(argv[2]) : 100;
    print_title("bench_record: one durable add_consultation");
    print_machine();

    ScratchDir dir;
    client::Engine engine = open_device(dir / "engine.db");
    RawTable raw(dir / "raw.db");

    auto engine_add = [&](std::uint64_t i) {
        double start = now_s();
        must(engine.add_consultation(sample_consultation(i)), "add_consultation");
        return now_s() - start;
    };
    auto raw_add = [&](std::uint64_t i) {
        client::ConsultationInput c = sample_consultation(i);
        std::string id = client::uuid_v7(1715680800000 + static_cast<std::int64_t>(i));
        double start = now_s();
        raw.begin();
        raw.insert(id, c);
        raw.commit();
        return now_s() - start;
    };

    // Warm-up (file creation, page cache, statement caches), then rounds that alternate the two
    // so that a burst of load on the machine hits both alike.
    for (std::uint64_t i = 0; i < 20; ++i) {
        (void)engine_add(i);
        (void)raw_add(i);
    }
    std::vector<double> engine_samples, raw_samples;
    const int round = 50;
    double engine_cpu = 0, raw_cpu = 0;
    for (int done = 0; done < engine_adds; done += round) {
        double cpu0 = cpu_s();
        for (int k = 0; k < round && done + k < engine_adds; ++k) {
            engine_samples.push_back(engine_add(1000 + static_cast<std::uint64_t>(done + k)));
        }
        double cpu1 = cpu_s();
        engine_cpu += cpu1 - cpu0;
        for (int k = 0; k < round && done + k < engine_adds; ++k) {
            raw_samples.push_back(raw_add(1000 + static_cast<std::uint64_t>(done + k)));
        }
        raw_cpu += cpu_s() - cpu1;
    }
    Summary e = summarize(engine_samples), r = summarize(raw_samples);
    print_row("engine add_consultation", fmt_ms(e));
    print_row("baseline sqlite INSERT+COMMIT", fmt_ms(r));
    print_row("ratio engine/baseline",
              "p50 " + fmt(e.p50 / r.p50) + "x   p99 " + fmt(e.p99 / r.p99) + "x");
    print_row("CPU per add: engine / baseline",
              fmt(engine_cpu / static_cast<double>(engine_samples.size()) * 1e3, 3) + " ms / " +
                  fmt(raw_cpu / static_cast<double>(raw_samples.size()) * 1e3, 3) + " ms");
    if (cli_adds <= 0) {
        print_load();
        return 0;
    }

    // The same through the CLI: a process per consultation, as the lawyer types it.
    const std::string exe = caravan_exe();
    const std::string db = (dir / "cli.db").string();
    for (const auto& args : std::vector<std::vector<std::string>>{
             {exe, "--db", db, "init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."},
             {exe, "--db", db, "village", "add", "Қызылжар", "--region", "Ақтөбе обл."},
             {exe, "--db", db, "visit", "start", "--village", "Қызылжар", "--date",
              "2024-05-14"}}) {
        if (run_child(args).exit_code != 0) {
            std::cerr << "bench_record: `caravan " << args[3] << "` failed\n";
            return 1;
        }
    }
    std::vector<double> cli_samples, version_samples, cli_cpu;
    long cli_rss = 0;
    for (int i = 0; i < cli_adds; ++i) {
        ChildRun add = run_child({exe,
                                  "--db",
                                  db,
                                  "consult",
                                  "add",
                                  "--gender",
                                  "female",
                                  "--age",
                                  "33-45",
                                  "--category",
                                  "unemployed",
                                  "--topic",
                                  "family",
                                  "--topic",
                                  "land",
                                  "--outcome",
                                  "advice",
                                  "--question",
                                  "Алимент өндіру тәртібі",
                                  "--lang",
                                  "kk"});
        if (add.exit_code != 0) {
            std::cerr << "bench_record: `caravan consult add` failed\n";
            return 1;
        }
        cli_samples.push_back(add.wall_s);
        cli_cpu.push_back(add.cpu_s);
        cli_rss = std::max(cli_rss, add.max_rss_kb);
        version_samples.push_back(run_child({exe, "--version"}).wall_s);
    }
    Summary c = summarize(cli_samples), v = summarize(version_samples);
    print_row("cli `caravan consult add`", fmt_ms(c));
    print_row("cli `caravan --version` (start)", fmt_ms(v));
    print_row("ratio cli/baseline",
              "p50 " + fmt(c.p50 / r.p50) + "x   p99 " + fmt(c.p99 / r.p99) + "x");
    print_row("cli CPU per add (p50)", fmt(percentile(cli_cpu, 50) * 1e3) + " ms");
    print_row("cli peak RSS", std::to_string(cli_rss) + " KB (this process: " +
                                  std::to_string(self_max_rss_kb()) + " KB)");
    print_load();
    return 0;
}
