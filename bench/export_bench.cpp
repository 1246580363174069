// Exporting a large journal: `caravan export journal --all` of RECORDS consultations to CSV,
// JSON and XLSX through the export library, each against the bare library writing the same
// rows from the same SQL cursor in the same run (plain ofstream for CSV, nlohmann::json dump
// for JSON, libxlsxwriter in constant-memory mode for XLSX). Every case runs in a forked child:
// wall time from the child, peak resident memory from wait4 (ru_maxrss). A child that only
// opens the database gives the memory floor. Exports that stream have a peak close to their
// bare baseline and to the floor, whatever the number of rows.
//
//   export_bench [RECORDS=100000] [REPEAT=3]

#include <cstdlib>
#include <fstream>
#include <iostream>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <xlsxwriter.h>

#include "caravan/client/export/journal.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;
namespace fs = std::filesystem;
namespace ex = caravan::client::exports;

namespace {

const char* const k_regions[] = {"Ақтөбе обл.", "Абай обл.", "Жамбыл обл.", "Ақмола обл."};

// The journal export's rows, as the bare baselines read them: the same joins and order.
constexpr const char* k_rows =
    "SELECT c.id, coalesce(v.date, ''), coalesce(g.region, ''), coalesce(g.name, ''),"
    " coalesce(g.district, ''), coalesce(c.lawyer, ''), coalesce(c.gender, ''),"
    " coalesce(c.age, ''), coalesce(c.category, ''), coalesce(c.vulnerable, 0),"
    " coalesce(c.topics, '[]'), coalesce(c.question, ''), coalesce(c.advice, ''),"
    " coalesce(c.outcome, ''), coalesce(c.follow_up, 0), coalesce(c.lang, '')"
    " FROM consultations c LEFT JOIN visits v ON v.id = c.visit_id"
    " LEFT JOIN villages g ON g.id = v.village_id"
    " WHERE c._created IS NOT NULL AND NOT coalesce(c.deleted, 0)"
    " ORDER BY coalesce(g.region, ''), coalesce(v.date, ''), c.id";

template <class Row> std::int64_t each_row(storage::Database& db, Row row) {
    auto stmt = must(db.prepare(k_rows), "prepare");
    std::int64_t n = 0;
    while (must(stmt.step(), "step")) {
        row(stmt, ++n);
    }
    return n;
}

void bare_csv(storage::Database& db, const fs::path& file) {
    std::ofstream out(file, std::ios::binary);
    each_row(db, [&](const storage::Statement& s, std::int64_t n) {
        out << n;
        for (int c = 0; c < 16; ++c) {
            out << ',' << s.column_text(c); // no quoting, no labels: the floor
        }
        out << "\r\n";
    });
}

void bare_json(storage::Database& db, const fs::path& file) {
    std::ofstream out(file, std::ios::binary);
    out << "[";
    each_row(db, [&](const storage::Statement& s, std::int64_t n) {
        nlohmann::json row = {{"no", n}};
        for (int c = 0; c < 16; ++c) {
            row["c" + std::to_string(c)] = s.column_text(c);
        }
        out << (n == 1 ? "\n" : ",\n") << row.dump();
    });
    out << "\n]\n";
}

void bare_xlsx(storage::Database& db, const fs::path& file) {
    lxw_workbook_options options{};
    options.constant_memory = LXW_TRUE;
    lxw_workbook* book = workbook_new_opt(file.c_str(), &options);
    lxw_worksheet* sheet = workbook_add_worksheet(book, nullptr);
    each_row(db, [&](const storage::Statement& s, std::int64_t n) {
        auto row = static_cast<lxw_row_t>(n);
        worksheet_write_number(sheet, row, 0, static_cast<double>(n), nullptr);
        for (int c = 0; c < 16; ++c) {
            worksheet_write_string(sheet, row, static_cast<lxw_col_t>(c + 1),
                                   s.column_text(c).c_str(), nullptr);
        }
    });
    if (workbook_close(book) != LXW_NO_ERROR) {
        std::exit(3);
    }
}

struct Measured {
    double wall_s = 0;
    long rss_kb = 0;
};

// Runs `work` in a forked child; its wall time comes back through a pipe.
template <class Work> Measured in_child(Work work) {
    int fds[2];
    if (::pipe(fds) != 0) {
        std::perror("pipe");
        std::exit(1);
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        double start = now_s();
        work();
        double wall = now_s() - start;
        (void)!::write(fds[1], &wall, sizeof wall);
        ::_exit(0);
    }
    ::close(fds[1]);
    Measured m;
    if (::read(fds[0], &m.wall_s, sizeof m.wall_s) != sizeof m.wall_s) {
        m.wall_s = -1;
    }
    ::close(fds[0]);
    int status = 0;
    rusage usage{};
    ::wait4(pid, &status, 0, &usage);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::cerr << "export_bench: a child failed\n";
        std::exit(1);
    }
    m.rss_kb = usage.ru_maxrss;
    return m;
}

} // namespace

int main(int argc, char** argv) {
    const std::int64_t records = argc > 1 ? std::atoll(argv[1]) : 100000;
    const int repeat = argc > 2 ? std::atoi(argv[2]) : 3;
    print_title("export_bench: exporting a journal of " + std::to_string(records) +
                " consultations");
    print_machine();

    ScratchDir dir;
    const fs::path db = dir / "coordinator.db";
    {
        double start = now_s();
        client::Engine engine = open_device(db);
        must(engine.close_visit(std::nullopt), "close");
        // 4 regions x 25 visits; the consultations spread evenly over the 100 visits.
        std::vector<std::string> visits;
        for (int r = 0; r < 4; ++r) {
            std::string village = "Ауыл " + std::to_string(r + 1);
            must(engine.add_village(
                     {village, k_regions[r], std::string("Аудан"), std::nullopt, std::nullopt}),
                 "village");
            for (int v = 0; v < 25; ++v) {
                char date[32];
                std::snprintf(date, sizeof date, "2024-%02d-%02d", 1 + v % 8, 1 + v);
                auto visit = must(engine.start_visit(village + "", std::string(date)), "visit");
                visits.push_back(visit.id);
                must(engine.close_visit(visit.id), "close");
            }
        }
        const std::int64_t batch = 1000;
        for (std::int64_t b = 0; b < records; b += batch) {
            must(engine.batch([&]() -> Result<void> {
                for (std::int64_t i = b; i < std::min(records, b + batch); ++i) {
                    auto in = sample_consultation(static_cast<std::uint64_t>(i));
                    in.visit = visits[static_cast<std::size_t>(i) % visits.size()];
                    auto added = engine.add_consultation(in);
                    if (!added) {
                        return tl::unexpected(added.error());
                    }
                }
                return {};
            }),
                 "batch");
        }
        print_row("database built", fmt(now_s() - start) + " s, " +
                                        fmt(static_cast<double>(fs::file_size(db)) / (1 << 20), 1) +
                                        " MB");
    }

    auto open_db = [&] {
        storage::OpenOptions options;
        options.integrity_check = false;
        return must(storage::Database::open(db, options), "open");
    };
    struct Case {
        std::string label;
        std::function<void()> work;
        fs::path output;
        std::vector<double> wall;
        long rss = 0;
    };
    auto exported = [&](ex::Format format, fs::path file) {
        return [&, format, file] {
            storage::Database d = open_db();
            must(ex::export_journal(d, {{}, client::Lang::kk}, format, file), "export");
        };
    };
    auto bare = [&](void (*write)(storage::Database&, const fs::path&), fs::path file) {
        return [&, write, file] {
            storage::Database d = open_db();
            write(d, file);
        };
    };
    std::vector<Case> cases = {
        {"floor: open the database", [&] { (void)open_db(); }, {}, {}, 0},
        {"csv  export", exported(ex::Format::csv, dir / "j.csv"), dir / "j.csv", {}, 0},
        {"csv  bare ofstream", bare(bare_csv, dir / "b.csv"), dir / "b.csv", {}, 0},
        {"json export", exported(ex::Format::json, dir / "j.json"), dir / "j.json", {}, 0},
        {"json bare nlohmann", bare(bare_json, dir / "b.json"), dir / "b.json", {}, 0},
        {"xlsx export", exported(ex::Format::xlsx, dir / "j.xlsx"), dir / "j.xlsx", {}, 0},
        {"xlsx bare libxlsxwriter", bare(bare_xlsx, dir / "b.xlsx"), dir / "b.xlsx", {}, 0},
    };
    for (int r = 0; r < repeat; ++r) { // interleaved: every case once per round
        for (Case& c : cases) {
            Measured m = in_child(c.work);
            c.wall.push_back(m.wall_s);
            c.rss = std::max(c.rss, m.rss_kb);
        }
    }
    std::cout << "\n  case                        median s   peak RSS MB   output MB\n";
    auto median = [](std::vector<double> v) { return percentile(std::move(v), 50); };
    for (const Case& c : cases) {
        char line[160];
        std::snprintf(line, sizeof line, "  %-26s %9.2f   %11.1f   %9.1f\n", c.label.c_str(),
                      median(c.wall), static_cast<double>(c.rss) / 1024.0,
                      c.output.empty() ? 0.0
                                       : static_cast<double>(fs::file_size(c.output)) / (1 << 20));
        std::cout << line;
    }
    std::cout << "\n";
    for (size_t i = 1; i + 1 < cases.size(); i += 2) {
        std::string format = cases[i].label.substr(0, cases[i].label.find(' '));
        print_row(format + " time ratio export/bare",
                  fmt(median(cases[i].wall) / median(cases[i + 1].wall)));
        print_row(format + " peak RSS ratio export/bare",
                  fmt(static_cast<double>(cases[i].rss) / static_cast<double>(cases[i + 1].rss)));
    }
    print_load();
    return 0;
}
