#pragma once
// A real `caravan-server serve` process for the benchmarks that measure the server as deployed
// (server_dos_bench, store_ingest_bench): started on 127.0.0.1 with an ephemeral port, its
// resident set read from /proc, stopped with SIGTERM on destruction.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace caravan::bench {

class ServerProcess {
  public:
    // `dir` holds the data directory (dir/data) and the process's output. `store`: a
    // postgresql:// URL (the PostgreSQL store, dir/data then holds its cache) or "" (embedded);
    // `options`: more options of `serve`. Exits the benchmark when the server does not start.
    explicit ServerProcess(const std::filesystem::path& dir, std::string store = "",
                           const std::vector<std::string>& options = {});
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] pid_t pid() const { return m_pid; }
    // A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"); -1 when absent.
    [[nodiscard]] long kib(const std::string& field) const;
    // Resets VmHWM to the current resident set.
    void reset_peak() const;
    // A fresh code through the operator command: a lawyer of `region`, or a coordinator when
    // `region` is empty.
    [[nodiscard]] std::string code(const std::string& region) const;
    // Enrolls `device_id` as a lawyer of `region` through POST /v1/enroll with a fresh code();
    // its token. Throws std::runtime_error when the server refuses (so that a benchmark's
    // servers are stopped on the way out).
    [[nodiscard]] std::string enroll(const std::string& device_id, const std::string& region) const;

  private:
    std::filesystem::path m_dir;
    std::string m_store;
    pid_t m_pid = -1;
    int m_port = 0;
};

} // namespace caravan::bench
