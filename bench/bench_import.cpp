// `caravan import` of a generated journal of ROWS consultations (CSV: Kazakh headers, a mix of
// labels and codes, quoted summaries with commas and line breaks; 72 villages in 4 regions,
// 5 lawyers, about 40 consultations per visit). Figures: validation alone (--dry-run), the
// import (one transaction), a re-import (every row already present), each in this process;
// then the real binary on a fresh database, with its peak memory, against `caravan status` on
// the same database as the memory baseline.
//
//   bench_import [ROWS=100000]

#include <cstdlib>
#include <fstream>
#include <iostream>

#include "caravan/client/import.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;

namespace {

std::string date_of(int day) { // day 0 = 2024-01-01, within 2024
    static const int month_days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int month = 0;
    while (day >= month_days[month]) {
        day -= month_days[month];
        month = (month + 1) % 12;
    }
    std::string out = "2024-00-00";
    out[5] = static_cast<char>('0' + (month + 1) / 10);
    out[6] = static_cast<char>('0' + (month + 1) % 10);
    out[8] = static_cast<char>('0' + (day + 1) / 10);
    out[9] = static_cast<char>('0' + (day + 1) % 10);
    return out;
}

void generate(const std::filesystem::path& path, std::int64_t rows) {
    static const char* const regions[] = {"Ақтөбе обл.", "Абай обл.", "Жамбыл обл.", "Ақмола обл."};
    static const char* const lawyers[] = {"Арнат Ұлтанбаев", "Дина Серікова", "Ержан Қасым",
                                          "Гүлнар Әбілова", "Мадина Нұрлан"};
    static const char* const genders[] = {"ер", "әйел", "female", "male", ""};
    static const char* const topic_cells[] = {
        "жер",        "отбасы; мұрагерлік", "housing",
        "еңбек дауы", "benefits; health",   "коллекторлар; несие және банкроттық"};
    static const char* const outcomes[] = {"кеңес берілді", "advice", "referred",
                                           "құжат дайындалды", "case"};
    std::ofstream out(path, std::ios::binary);
    out << "\xEF\xBB\xBF№,күні,облыс,ауыл,заңгер,жынысы,жас тобы,әлеуметтік санаты,"
           "әлеуметтік осал топ,тақырыптар,сұрақтың қысқаша мазмұны,берілген кеңес,нәтижесі,"
           "қосымша жұмыс қажет,кеңес тілі\r\n";
    for (std::int64_t i = 0; i < rows; ++i) {
        client::ConsultationInput c = sample_consultation(static_cast<std::uint64_t>(i));
        std::int64_t visit = i / 40;
        int village = static_cast<int>(visit % 72);
        out << (i + 1) << ',' << date_of(static_cast<int>((visit * 7) % 366)) << ','
            << regions[village / 18] << ",Ауыл " << village << ',' << lawyers[visit % 5] << ','
            << genders[i % 5] << ',' << c.person.age << ',' << c.person.category << ','
            << (!c.person.vulnerable ? "" : *c.person.vulnerable ? "иә" : "жоқ") << ',' << topic_cells[i % 6] << ",\""
            << c.question << ", №" << i << ((i % 10) == 0 ? "\r\nекінші жол" : "") << "\","
            << c.advice << ',' << outcomes[i % 5] << ',' << (c.follow_up ? "иә" : "жоқ") << ','
            << c.lang.value_or("") << "\r\n";
    }
}

} // namespace

int main(int argc, char** argv) {
    const std::int64_t rows = argc > 1 ? std::atoll(argv[1]) : 100000;
    print_title("bench_import: " + std::to_string(rows) + " CSV rows");
    print_machine();

    ScratchDir dir;
    const auto csv = dir / "journal.csv";
    double start = now_s();
    generate(csv, rows);
    print_row("generated file",
              fmt(static_cast<double>(std::filesystem::file_size(csv)) / (1 << 20), 1) + " MB in " +
                  fmt(now_s() - start) + " s");

    // The real binary first, while this process is small (see run_child about peak RSS).
    const std::string exe = caravan_exe();
    const std::string db = (dir / "cli.db").string();
    if (run_child({exe, "--db", db, "init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."})
            .exit_code != 0) {
        std::cerr << "bench_import: caravan init failed\n";
        return 1;
    }
    ChildRun before = run_child({exe, "--db", db, "status"});
    ChildRun cli = run_child({exe, "--db", db, "import", csv.string()});
    if (cli.exit_code != 0) {
        std::cerr << "bench_import: caravan import failed\n";
        return 1;
    }
    std::error_code ec;
    auto wal_mb = static_cast<double>(std::filesystem::file_size(db + "-wal", ec)) / (1 << 20);
    ChildRun after = run_child({exe, "--db", db, "status"});
    print_row("cli `caravan import`",
              fmt(cli.wall_s, 2) + " s wall, " + fmt(cli.cpu_s, 2) + " s CPU   " +
                  fmt(static_cast<double>(rows) / cli.wall_s, 0) + " rows/s   peak RSS " +
                  std::to_string(cli.max_rss_kb) + " KB");
    print_row("this process's peak RSS",
              std::to_string(self_max_rss_kb()) + " KB (below the children's figures)");
    print_row("baseline `caravan status` RSS", std::to_string(before.max_rss_kb) +
                                                   " KB before the import, " +
                                                   std::to_string(after.max_rss_kb) + " KB after");
    print_row("WAL file left after the import", fmt(ec ? 0.0 : wal_mb, 1) + " MB");

    // Then in this process: validation alone, the import, a re-import.
    client::Engine engine = must(client::Engine::open(dir / "device.db"), "open");
    must(engine.init("Арнат Ұлтанбаев", "Ақтөбе обл."), "init");
    auto run = [&](const char* label, bool dry_run) {
        client::ImportOptions options;
        options.dry_run = dry_run;
        double wall0 = now_s(), cpu0 = cpu_s();
        client::ImportReport report =
            must(client::import_journal(engine, csv, options), "import_journal");
        double wall = now_s() - wall0, cpu = cpu_s() - cpu0;
        if (!report.ok()) {
            std::cerr << "bench_import: the generated file has errors, e.g. "
                      << client::to_string(report.errors.front()) << "\n";
            std::exit(1);
        }
        print_row(label, fmt(wall, 2) + " s wall, " + fmt(cpu, 2) + " s CPU   " +
                             fmt(static_cast<double>(rows) / wall, 0) + " rows/s   (imported " +
                             std::to_string(report.imported) + ", present " +
                             std::to_string(report.already_present) + ", villages " +
                             std::to_string(report.villages_created) + ", visits " +
                             std::to_string(report.visits_created) + ")");
        return report;
    };
    (void)run("validate only (--dry-run)", true);
    (void)run("import (one transaction)", false);
    (void)run("re-import (all present)", false);

    print_load();
    return 0;
}
