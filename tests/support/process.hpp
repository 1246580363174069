#pragma once
// Real child processes for integration tests.

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace caravan::test {

struct ProcessResult {
    int exit_code = -1; // -1 when killed by a signal
    int signal = 0;
    std::string out;
    std::string err;
    bool timed_out = false;
};

// Runs `argv` (argv[0] a path) to completion with extra environment variables, optional stdin,
// and a hard timeout after which the child is killed (SIGKILL).
ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env = {},
                          const std::string& input = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Path of a binary built by this project, e.g. binary("caravan") or binary("caravan-server").
std::filesystem::path binary(const std::string& name);

// A child running in the background with stdout captured to a file.
class BackgroundProcess {
  public:
    BackgroundProcess(const std::vector<std::string>& argv,
                      const std::map<std::string, std::string>& env,
                      const std::filesystem::path& stdout_file,
                      const std::filesystem::path& stderr_file);
    ~BackgroundProcess(); // SIGKILL if still running
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    [[nodiscard]] pid_t pid() const { return m_pid; }
    void kill_now(int signal = 9);
    // Waits for exit up to `timeout`; returns the exit status as from waitpid, or nullopt.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    [[nodiscard]] bool running();

  private:
    pid_t m_pid = -1;
    bool m_reaped = false;
};

// Reads a whole file ("" if missing).
std::string read_file(const std::filesystem::path& path);

// The port `caravan-server serve` announced in `stdout_file` with its whole line "listening on
// 127.0.0.1:PORT"; nullopt while that line is not (yet) there.
std::optional<int> listening_port(const std::filesystem::path& stdout_file);

} // namespace caravan::test
