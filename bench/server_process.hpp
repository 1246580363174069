#pragma once
// A real `caravan-server serve --data DIR/data --listen 127.0.0.1:0` process for the benchmarks
// that measure the server from outside (its resident set through /proc, its answers over HTTP).
// The including program defines CARAVAN_SERVER_EXE_PATH (bench/CMakeLists.txt).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <fstream>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace caravan::bench {

class ServerProcess {
  public:
    // Starts the server on DIR/data (created when missing) and waits for its port; `region`
    // is the one code() issues codes for. Exits the program when the server does not start.
    ServerProcess(const std::filesystem::path& dir, std::string region)
        : m_dir(dir), m_region(std::move(region)) {
        std::string out = (dir / "server.out").string();
        std::filesystem::remove(out); // a line left by an earlier server is not this one's port
        m_pid = ::fork();
        if (m_pid == 0) {
            std::freopen(out.c_str(), "w", stdout);
            std::freopen("/dev/null", "w", stderr);
            std::string data = (dir / "data").string();
            ::execl(CARAVAN_SERVER_EXE_PATH, "caravan-server", "serve", "--data", data.c_str(),
                    "--listen", "127.0.0.1:0", static_cast<char*>(nullptr));
            std::_Exit(127);
        }
        for (int i = 0; i < 6000 && m_port == 0; ++i) {
            std::ifstream in(out);
            std::string line;
            if (std::getline(in, line) && line.rfind("listening on 127.0.0.1:", 0) == 0) {
                m_port = std::stoi(line.substr(23));
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
        }
        if (m_port == 0) {
            std::fprintf(stderr, "caravan-server did not start\n");
            std::exit(1);
        }
    }
    ~ServerProcess() {
        ::kill(m_pid, SIGTERM);
        int status = 0;
        ::waitpid(m_pid, &status, 0);
    }
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    [[nodiscard]] int port() const { return m_port; }
    // A field of /proc/<pid>/status in KiB (VmRSS, VmHWM); -1 when not found.
    [[nodiscard]] long kib(const std::string& field) const {
        std::ifstream in("/proc/" + std::to_string(m_pid) + "/status");
        std::string line;
        while (std::getline(in, line)) {
            if (line.rfind(field + ":", 0) == 0) {
                return std::stol(line.substr(field.size() + 1));
            }
        }
        return -1;
    }
    // Resets VmHWM to the current resident set.
    void reset_peak() const {
        std::ofstream("/proc/" + std::to_string(m_pid) + "/clear_refs") << "5";
    }
    // A fresh code through the operator command (the database is shared, WAL).
    [[nodiscard]] std::string code() const {
        std::string out = (m_dir / "code.out").string();
        std::string cmd = std::string(CARAVAN_SERVER_EXE_PATH) + " enroll-code --data " +
                          (m_dir / "data").string() + " --lawyer Bench --region '" + m_region +
                          "' > " + out + " 2>/dev/null";
        if (std::system(cmd.c_str()) != 0) {
            std::fprintf(stderr, "enroll-code failed\n");
            std::exit(1);
        }
        std::ifstream in(out);
        std::string line, last;
        while (std::getline(in, line)) {
            if (!line.empty()) {
                last = line;
            }
        }
        return last;
    }

    // Enrolls `device_id` through POST /v1/enroll with a fresh code(); its token. Throws
    // std::runtime_error when the server refuses (so that the server is stopped on the way out).
    [[nodiscard]] std::string enroll(const std::string& device_id) const {
        httplib::Client c("127.0.0.1", m_port);
        const std::string body =
            nlohmann::json{{"code", code()}, {"device_id", device_id}}.dump();
        auto r = c.Post("/v1/enroll", {{"X-Caravan-Protocol", "1"}}, body, "application/json");
        if (!r || r->status != 200) {
            throw std::runtime_error("enrollment failed");
        }
        return nlohmann::json::parse(r->body)["token"].get<std::string>();
    }

  private:
    std::filesystem::path m_dir;
    std::string m_region;
    pid_t m_pid = -1;
    int m_port = 0;
};

} // namespace caravan::bench
