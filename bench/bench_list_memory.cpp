// Peak memory and time of listing a large journal with the real binary: `caravan consult list`
// and `caravan consult list --json` on a database of RECORDS consultations, stdout to
// /dev/null, measured from the child's rusage (wait4: ru_maxrss). Baseline in the same run:
// `caravan status` on the same database (opens it and counts; holds no rows). A list that
// streams has a peak close to the baseline whatever the number of rows.
//
//   bench_list_memory [RECORDS=100000] [REPEAT=3]

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;

int main(int argc, char** argv) {
    const std::int64_t records = argc > 1 ? std::atoll(argv[1]) : 100000;
    const int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
    print_title("bench_list_memory: listing " + std::to_string(records) + " consultations");
    print_machine();

    ScratchDir dir;
    const std::string db = (dir / "device.db").string();
    // Built in a forked child, so that this process stays small: a spawned child's peak RSS
    // counts this process's (see run_child).
    double start = now_s();
    pid_t builder = ::fork();
    if (builder < 0) {
        std::cerr << "bench_list_memory: fork failed\n";
        return 1;
    }
    if (builder == 0) {
        client::Engine engine = open_device(db);
        record_samples(engine, records, "batch");
        std::_Exit(0);
    }
    int status = 0;
    if (::waitpid(builder, &status, 0) != builder || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        std::cerr << "bench_list_memory: building the database failed\n";
        return 1;
    }
    print_row("database built",
              fmt(now_s() - start) + " s, " +
                  fmt(static_cast<double>(std::filesystem::file_size(db)) / (1 << 20), 1) + " MB");
    print_row("this process's peak RSS", std::to_string(self_max_rss_kb()) +
                                             " KB (below every figure: they are the children's)");

    const std::string exe = caravan_exe();
    struct Case {
        std::string label;
        std::vector<std::string> args;
        std::vector<double> wall, cpu;
        long rss = 0;
    };
    std::vector<Case> cases = {
        {"baseline `caravan status`", {exe, "--db", db, "status"}, {}, {}, 0},
        {"`caravan consult list`", {exe, "--db", db, "consult", "list"}, {}, {}, 0},
        {"`caravan consult list --json`",
         {exe, "--db", db, "consult", "list", "--json"},
         {},
         {},
         0},
    };
    // Interleaved repeats: each case once per round.
    for (int r = 0; r < repeat; ++r) {
        for (Case& c : cases) {
            ChildRun run = run_child(c.args);
            if (run.exit_code != 0) {
                std::cerr << "bench_list_memory: " << c.label << " failed\n";
                return 1;
            }
            c.wall.push_back(run.wall_s);
            c.cpu.push_back(run.cpu_s);
            c.rss = std::max(c.rss, run.max_rss_kb);
        }
    }
    // The output is really produced: count the JSON document's bytes once.
    {
        std::string out = (dir / "list.json").string();
        (void)run_child(cases[2].args, out);
        print_row("`consult list --json` output",
                  fmt(static_cast<double>(std::filesystem::file_size(out)) / (1 << 20), 1) + " MB");
    }
    const long base = cases[0].rss;
    for (const Case& c : cases) {
        print_row(c.label, "peak RSS " + std::to_string(c.rss) + " KB (" +
                               fmt(static_cast<double>(c.rss) / static_cast<double>(base)) +
                               "x baseline)   time p50 " + fmt(percentile(c.wall, 50), 3) +
                               " s   CPU p50 " + fmt(percentile(c.cpu, 50), 3) +
                               " s   (n=" + std::to_string(c.wall.size()) + ")");
    }
    print_row("rows per second (list, p50)",
              fmt(static_cast<double>(records) / percentile(cases[1].wall, 50), 0));
    print_row("rows per second (--json, p50)",
              fmt(static_cast<double>(records) / percentile(cases[2].wall, 50), 0));
    print_load();
    return 0;
}
