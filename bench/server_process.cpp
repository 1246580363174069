#include "server_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace caravan::bench {

ServerProcess::ServerProcess(const std::filesystem::path& dir, std::string store,
                             const std::vector<std::string>& options)
    : m_dir(dir), m_store(std::move(store)) {
    std::filesystem::create_directories(dir);
    std::string out = (dir / "server.out").string();
    // A reused directory holds the last run's file: its port must not be read before the new
    // process has truncated it.
    std::filesystem::remove(out);
    std::vector<std::string> args = {"caravan-server",        "serve",    "--data",
                                     (dir / "data").string(), "--listen", "127.0.0.1:0"};
    if (!m_store.empty()) {
        args.insert(args.end(), {"--store", m_store});
    }
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (std::string& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    m_pid = ::fork();
    if (m_pid == 0) {
        std::freopen(out.c_str(), "w", stdout);
        std::freopen("/dev/null", "w", stderr);
        ::execv(CARAVAN_SERVER_EXE_PATH, argv.data());
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

ServerProcess::~ServerProcess() {
    ::kill(m_pid, SIGTERM);
    int status = 0;
    ::waitpid(m_pid, &status, 0);
}

long ServerProcess::kib(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(m_pid) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) {
            return std::stol(line.substr(field.size() + 1));
        }
    }
    return -1;
}

void ServerProcess::reset_peak() const {
    std::ofstream("/proc/" + std::to_string(m_pid) + "/clear_refs") << "5";
}

std::string ServerProcess::code(const std::string& region) const {
    std::string out = (m_dir / "code.out").string();
    std::string cmd = std::string(CARAVAN_SERVER_EXE_PATH) + " enroll-code --data " +
                      (m_dir / "data").string() + " --lawyer Bench";
    cmd += region.empty() ? std::string(" --role coordinator") : " --region '" + region + "'";
    if (!m_store.empty()) {
        cmd += " --store '" + m_store + "'";
    }
    cmd += " > " + out + " 2>/dev/null";
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

std::string ServerProcess::enroll(const std::string& device_id, const std::string& region) const {
    httplib::Client c("127.0.0.1", m_port);
    const std::string body =
        nlohmann::json{{"code", code(region)}, {"device_id", device_id}}.dump();
    auto r = c.Post("/v1/enroll", {{"X-Caravan-Protocol", "1"}}, body, "application/json");
    if (!r || r->status != 200) {
        throw std::runtime_error("enrollment failed");
    }
    return nlohmann::json::parse(r->body)["token"].get<std::string>();
}

} // namespace caravan::bench
