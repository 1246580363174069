#include "support.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

extern char** environ;

namespace caravan::bench {

// ---- time ----------------------------------------------------------------------------------

double cpu_s() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
           static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long self_max_rss_kb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

double percentile(std::vector<double> samples, double p) {
    if (samples.empty()) {
        return 0;
    }
    std::sort(samples.begin(), samples.end());
    double rank = p / 100.0 * static_cast<double>(samples.size() - 1);
    auto low = static_cast<std::size_t>(std::floor(rank));
    auto high = std::min(low + 1, samples.size() - 1);
    double frac = rank - static_cast<double>(low);
    return samples[low] + (samples[high] - samples[low]) * frac;
}

Summary summarize(const std::vector<double>& samples) {
    Summary s;
    s.n = samples.size();
    if (samples.empty()) {
        return s;
    }
    s.p50 = percentile(samples, 50);
    s.p90 = percentile(samples, 90);
    s.p99 = percentile(samples, 99);
    double total = 0;
    for (double v : samples) {
        total += v;
        s.max = std::max(s.max, v);
    }
    s.mean = total / static_cast<double>(samples.size());
    return s;
}

// ---- child processes -----------------------------------------------------------------------

ChildRun run_child(const std::vector<std::string>& argv, const std::string& stdout_file) {
    std::vector<char*> args;
    for (const std::string& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    ChildRun run;
    double start = now_s();
    pid_t pid = -1;
    int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
        std::cerr << "bench: cannot start " << argv[0] << "\n";
        std::exit(1);
    }
    int status = 0;
    rusage usage{};
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            std::cerr << "bench: wait4 failed\n";
            std::exit(1);
        }
    }
    run.wall_s = now_s() - start;
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    run.max_rss_kb = usage.ru_maxrss;
    return run;
}

std::string caravan_exe() {
    if (const char* exe = std::getenv("CARAVAN_EXE"); exe && *exe) {
        return exe;
    }
    return CARAVAN_EXE_PATH;
}

// ---- files ---------------------------------------------------------------------------------

ScratchDir::ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/caravan-bench-XXXXXX";
    if (!::mkdtemp(base.data())) {
        std::cerr << "bench: cannot create a scratch directory\n";
        std::exit(1);
    }
    m_path = base;
}

ScratchDir::~ScratchDir() {
    if (const char* keep = std::getenv("CARAVAN_BENCH_KEEP"); keep && *keep == '1') {
        std::cerr << "bench: scratch directory kept: " << m_path.string() << "\n";
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

// ---- the engine and its baseline -----------------------------------------------------------

void die(const char* what, const Error& error) {
    std::cerr << "bench: " << what << ": " << error.message << "\n";
    std::exit(1);
}

client::Engine open_device(const std::filesystem::path& db) {
    client::Engine engine = must(client::Engine::open(db), "open");
    must(engine.init("Арнат Ұлтанбаев", "Ақтөбе обл."), "init");
    must(engine.add_village({"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}),
         "village");
    must(engine.start_visit("Қызылжар", std::string("2024-05-14")), "visit");
    return engine;
}

namespace {

std::uint64_t mix(std::uint64_t x) { // splitmix64
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

template <std::size_t N> const char* pick(const char* const (&values)[N], std::uint64_t r) {
    return values[r % N];
}

} // namespace

client::ConsultationInput sample_consultation(std::uint64_t i) {
    static const char* const genders[] = {"female", "male", "female", "unrecorded"};
    static const char* const ages[] = {"17-22", "23-27", "28-32", "33-45", "46-58", "59+"};
    static const char* const categories[] = {"youth",      "unemployed",    "older",
                                             "disability", "public-sector", "other"};
    static const char* const topics[] = {"land",   "housing",  "family", "inheritance",
                                         "labour", "benefits", "credit", "domestic-violence"};
    static const char* const outcomes[] = {"advice", "advice", "referred", "document", "case"};
    static const char* const questions[] = {
        "Жер телімін ресімдеу туралы сұрақ", "Алимент өндіру тәртібі",
        "Вопрос о пенсии по инвалидности", "Мұрагерлікке ену мерзімі",
        "Задолженность по кредиту и коллекторы"};
    static const char* const advice[] = {"Әкімдікке өтініш жазу", "Обратиться в ЦОН с документами",
                                         "Сотқа талап арыз дайындалды", ""};
    std::uint64_t r = mix(i);
    client::ConsultationInput in;
    in.person = {pick(genders, r), pick(ages, r >> 8), pick(categories, r >> 16),
                 ((r >> 24) & 3) == 0};
    in.topics = {pick(topics, r >> 28)};
    if (((r >> 32) & 3) == 0) {
        in.topics.emplace_back(pick(topics, r >> 36));
    }
    in.outcome = pick(outcomes, r >> 40);
    in.question = pick(questions, r >> 44);
    in.advice = pick(advice, r >> 48);
    in.follow_up = ((r >> 52) & 7) == 0;
    in.lang = ((r >> 55) & 1) ? "kk" : "ru";
    return in;
}

void record_samples(client::Engine& engine, std::int64_t n, const char* what) {
    constexpr std::int64_t k_batch = 1000;
    for (std::int64_t b = 0; b < n; b += k_batch) {
        must(engine.batch([&]() -> Result<void> {
            for (std::int64_t i = b; i < std::min(n, b + k_batch); ++i) {
                auto added =
                    engine.add_consultation(sample_consultation(static_cast<std::uint64_t>(i)));
                if (!added) {
                    return tl::unexpected(added.error());
                }
            }
            return {};
        }),
             what);
    }
}

struct RawTable::Impl {
    sqlite3* db = nullptr;
    sqlite3_destructor_type text_mode = SQLITE_STATIC;
    sqlite3_stmt* insert = nullptr;
    sqlite3_stmt* insert_event = nullptr;
    sqlite3_stmt* begin = nullptr;
    sqlite3_stmt* commit = nullptr;

    void check(int rc, const char* what) const {
        if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
            std::cerr << "bench: sqlite " << what << ": " << sqlite3_errmsg(db) << "\n";
            std::exit(1);
        }
    }
    void exec(const char* sql) const {
        check(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), sql);
    }
    sqlite3_stmt* prepare(const char* sql) const {
        sqlite3_stmt* stmt = nullptr;
        check(sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr), sql);
        return stmt;
    }
    void run(sqlite3_stmt* stmt, const char* what) const {
        check(sqlite3_step(stmt), what);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    }
};

RawTable::RawTable(const std::filesystem::path& path, Binds binds) : m_impl(new Impl) {
    m_impl->text_mode = binds == Binds::copied ? SQLITE_TRANSIENT : SQLITE_STATIC;
    m_impl->check(sqlite3_open_v2(path.c_str(), &m_impl->db,
                                  SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                  nullptr),
                  "open");
    // The pragmas the engine's storage layer sets.
    m_impl->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
    m_impl->exec(R"sql(
CREATE TABLE consultations(id TEXT PRIMARY KEY, visit_id TEXT, lawyer TEXT, gender TEXT,
  age TEXT, category TEXT, vulnerable INTEGER, topics TEXT, outcome TEXT, question TEXT,
  advice TEXT, follow_up INTEGER, lang TEXT, deleted INTEGER) STRICT;
CREATE INDEX consultations_by_visit ON consultations(visit_id);
CREATE TABLE events(log_position INTEGER PRIMARY KEY, device_id TEXT NOT NULL,
  seq INTEGER NOT NULL, hlc INTEGER NOT NULL, entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL, op TEXT NOT NULL, payload TEXT NOT NULL,
  schema_version INTEGER NOT NULL, server_seq INTEGER, UNIQUE (device_id, seq)) STRICT;
CREATE INDEX events_by_entity ON events(entity_id);
)sql");
    m_impl->insert = m_impl->prepare(
        "INSERT INTO consultations(id, visit_id, lawyer, gender, age, category, vulnerable,"
        " topics, outcome, question, advice, follow_up, lang, deleted)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,0)");
    m_impl->insert_event = m_impl->prepare(
        "INSERT INTO events(device_id, seq, hlc, entity_type, entity_id, op, payload,"
        " schema_version) VALUES('01a20f62-5662-736e-9be1-6f8805910bce', ?, ?, 'consultation',"
        " ?, 'create', ?, 1)");
    m_impl->begin = m_impl->prepare("BEGIN IMMEDIATE");
    m_impl->commit = m_impl->prepare("COMMIT");
}

RawTable::~RawTable() {
    for (sqlite3_stmt* s : {m_impl->insert, m_impl->insert_event, m_impl->begin, m_impl->commit}) {
        sqlite3_finalize(s);
    }
    sqlite3_close_v2(m_impl->db);
    delete m_impl;
}

void RawTable::begin() {
    m_impl->run(m_impl->begin, "begin");
}
void RawTable::commit() {
    m_impl->run(m_impl->commit, "commit");
}

void RawTable::insert(const std::string& id, const client::ConsultationInput& c) {
    sqlite3_stmt* s = m_impl->insert;
    // Every bound string outlives the step, so either binding mode is correct here.
    auto text = [&](int i, std::string_view v) {
        sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), m_impl->text_mode);
    };
    std::string topics = "[";
    for (const std::string& t : c.topics) {
        topics += (topics.size() > 1 ? ",\"" : "\"") + t + "\"";
    }
    topics += "]";
    text(1, id);
    text(2, "01a20f62-566d-791d-b826-64f8c26c30dd");
    text(3, "Арнат Ұлтанбаев");
    text(4, c.person.gender);
    text(5, c.person.age);
    text(6, c.person.category);
    if (c.person.vulnerable) {
        sqlite3_bind_int(s, 7, *c.person.vulnerable ? 1 : 0);
    } else {
        sqlite3_bind_null(s, 7); // not recorded
    }
    text(8, topics);
    text(9, c.outcome);
    text(10, c.question);
    text(11, c.advice);
    sqlite3_bind_int(s, 12, c.follow_up ? 1 : 0);
    text(13, c.lang ? std::string_view(*c.lang) : std::string_view());
    m_impl->run(s, "insert");
}

void RawTable::insert_event(const std::string& id, std::int64_t seq, const std::string& payload) {
    sqlite3_stmt* s = m_impl->insert_event;
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, seq * 1000);
    sqlite3_bind_text(s, 3, id.data(), static_cast<int>(id.size()), m_impl->text_mode);
    sqlite3_bind_text(s, 4, payload.data(), static_cast<int>(payload.size()), m_impl->text_mode);
    m_impl->run(s, "insert event");
}

// ---- output --------------------------------------------------------------------------------

void print_title(const std::string& title) {
    std::cout << "\n== " << title << " ==\n";
}

namespace {

std::string first_line_of(const std::string& path, const std::string& prefix = "") {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        if (prefix.empty() || line.rfind(prefix, 0) == 0) {
            return prefix.empty() ? line : line.substr(line.find(':') + 2);
        }
    }
    return "?";
}

} // namespace

void print_machine() {
    print_row("cpu", first_line_of("/proc/cpuinfo", "model name") + " x" +
                         std::to_string(std::thread::hardware_concurrency()));
    print_row("os", "Debian " + first_line_of("/etc/debian_version"));
    print_row("sqlite", sqlite3_libversion());
    print_row("load average", first_line_of("/proc/loadavg"));
}

void print_load() {
    print_row("load average", first_line_of("/proc/loadavg"));
}

void print_row(const std::string& label, const std::string& value) {
    std::string padded = label + ":";
    if (padded.size() < 34) {
        padded.append(34 - padded.size(), ' ');
    }
    std::cout << padded << " " << value << "\n" << std::flush;
}

std::string fmt(double value, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
    return buf;
}

std::string fmt_ms(const Summary& s) {
    return "p50 " + fmt(s.p50 * 1e3) + " ms   p90 " + fmt(s.p90 * 1e3) + " ms   p99 " +
           fmt(s.p99 * 1e3) + " ms   mean " + fmt(s.mean * 1e3) + " ms   max " + fmt(s.max * 1e3) +
           " ms   (n=" + std::to_string(s.n) + ")";
}

} // namespace caravan::bench
