#pragma once
// Shared pieces of the benchmark programs: clocks, percentiles, child processes with their
// resource usage, a scratch directory, a bare SQLite baseline, and printing.
//
// Benchmarks PRINT figures; they never assert timings. Every program measures its baseline in
// the same run, interleaved with the measured code where that is cheap, because the machines
// they run on (small, shared) are noisy: compare the ratio, not the absolute figures.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "caravan/client/engine.hpp"

namespace caravan::bench {

// ---- time ----------------------------------------------------------------------------------

[[nodiscard]] inline double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// User + system CPU time of this process so far, seconds.
[[nodiscard]] double cpu_s();
// Peak resident set size of this process so far, KB.
[[nodiscard]] long self_max_rss_kb();

// Linear-interpolated percentile (0..100) of `samples` (copied, then sorted).
[[nodiscard]] double percentile(std::vector<double> samples, double p);

struct Summary {
    std::size_t n = 0;
    double p50 = 0, p90 = 0, p99 = 0, mean = 0, max = 0;
};
[[nodiscard]] Summary summarize(const std::vector<double>& samples);

// ---- child processes -------------------------------------------------------------------------

struct ChildRun {
    int exit_code = -1; // -1 when killed by a signal
    double wall_s = 0;
    double cpu_s = 0;    // user + system of the child
    long max_rss_kb = 0; // peak resident set size of the child (wait4 rusage)
};

// Runs argv (argv[0] a path) with stdout and stderr sent to /dev/null (or to `stdout_file`).
// Caveat on max_rss_kb: Linux keeps, across exec, the peak RSS of the memory the child started
// with, i.e. this process's; a child's peak is only its own when this process is smaller.
// Benchmarks spawn measured children while they are small (see self_max_rss_kb).
[[nodiscard]] ChildRun run_child(const std::vector<std::string>& argv,
                                 const std::string& stdout_file = "/dev/null");

// The `caravan` binary: $CARAVAN_EXE, else the one this build made.
[[nodiscard]] std::string caravan_exe();

// ---- files -----------------------------------------------------------------------------------

// A fresh directory under $TMPDIR (or /tmp), removed on destruction.
class ScratchDir {
  public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
        return m_path / name;
    }

  private:
    std::filesystem::path m_path;
};

// ---- the engine and its baseline ------------------------------------------------------------

// Unwraps or exits with the error (benchmarks have no one to return an error to).
[[noreturn]] void die(const char* what, const Error& error);
template <class T> T must(Result<T> result, const char* what) {
    if (!result) {
        die(what, result.error());
    }
    return std::move(*result);
}
inline void must(Result<void> result, const char* what) {
    if (!result) {
        die(what, result.error());
    }
}

// An initialised device with one village and a current visit.
[[nodiscard]] client::Engine open_device(const std::filesystem::path& db);

// A deterministic, realistic consultation (mixed breakdowns, one or two topics, short Kazakh
// or Russian summaries).
[[nodiscard]] client::ConsultationInput sample_consultation(std::uint64_t i);

// Records sample_consultation(0 .. n-1) on `engine`, a thousand to a transaction; `what`
// names the step when it fails (the program stops).
void record_samples(client::Engine& engine, std::int64_t n, const char* what);

// The baseline: a bare SQLite file with the pragmas the engine uses (WAL, synchronous=FULL) and
// one table with a consultation's columns, written with one cached prepared INSERT.
class RawTable {
  public:
    // How text is bound: copied by SQLite (SQLITE_TRANSIENT, the common default), or not
    // (SQLITE_STATIC: the strings outlive the step, as in the engine's hot inserts).
    enum class Binds { copied, not_copied };
    explicit RawTable(const std::filesystem::path& db, Binds binds = Binds::not_copied);
    ~RawTable();
    RawTable(const RawTable&) = delete;
    RawTable& operator=(const RawTable&) = delete;
    void begin();
    void commit();
    // One row shaped like a consultation projection row.
    void insert(const std::string& id, const client::ConsultationInput& c);
    // Also an event-log-shaped row (entity id, JSON payload) in a second table: the rows the
    // engine's design writes per record, without the engine.
    void insert_event(const std::string& id, std::int64_t seq, const std::string& payload);

  private:
    struct Impl;
    Impl* m_impl;
};

// ---- output ----------------------------------------------------------------------------------

void print_title(const std::string& title);
// The machine and its load now (the benchmarks share it with other work).
void print_machine();
void print_load(); // the load average line alone (printed again at the end)
void print_row(const std::string& label, const std::string& value);
[[nodiscard]] std::string fmt(double value, int decimals = 2);
[[nodiscard]] std::string fmt_ms(const Summary& s); // "p50 1.23 ms  p99 4.56 ms ..."

} // namespace caravan::bench
