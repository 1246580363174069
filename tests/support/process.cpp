#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace caravan::test {

namespace {

[[noreturn]] void exec_child(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& env) {
    for (const auto& [k, v] : env) {
        ::setenv(k.c_str(), v.c_str(), 1);
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
}

} // namespace

std::filesystem::path binary(const std::string& name) {
    for (const char* dir : {"/cli/", "/tests/", "/bench/", "/"}) {
        std::filesystem::path p = std::string(CARAVAN_BINARY_DIR) + dir + name;
        if (std::filesystem::exists(p)) {
            return p;
        }
    }
    throw std::runtime_error("binary not built: " + name);
}

ProcessResult run_process(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env, const std::string& input,
                          std::chrono::milliseconds timeout) {
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) || ::pipe2(out_pipe, O_CLOEXEC) ||
        ::pipe2(err_pipe, O_CLOEXEC)) {
        throw std::runtime_error("pipe failed");
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        exec_child(argv, env);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::signal(SIGPIPE, SIG_IGN);
    size_t written = 0;
    if (input.empty()) {
        ::close(in_pipe[1]);
        in_pipe[1] = -1;
    }
    ProcessResult result;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool out_open = true, err_open = true;
    char buf[65536];
    while (out_open || err_open) {
        std::vector<pollfd> fds;
        if (out_open) {
            fds.push_back({out_pipe[0], POLLIN, 0});
        }
        if (err_open) {
            fds.push_back({err_pipe[0], POLLIN, 0});
        }
        if (in_pipe[1] >= 0) {
            fds.push_back({in_pipe[1], POLLOUT, 0});
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            result.timed_out = true;
            break;
        }
        ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long>(left.count(), 200)));
        for (const pollfd& p : fds) {
            if (!p.revents) {
                continue;
            }
            if (p.fd == in_pipe[1]) {
                ssize_t n = ::write(in_pipe[1], input.data() + written, input.size() - written);
                if (n > 0) {
                    written += static_cast<size_t>(n);
                }
                if (n < 0 || written == input.size()) {
                    ::close(in_pipe[1]);
                    in_pipe[1] = -1;
                }
                continue;
            }
            ssize_t n = ::read(p.fd, buf, sizeof buf);
            if (n <= 0) {
                (p.fd == out_pipe[0] ? out_open : err_open) = false;
            } else {
                (p.fd == out_pipe[0] ? result.out : result.err).append(buf, static_cast<size_t>(n));
            }
        }
    }
    if (in_pipe[1] >= 0) {
        ::close(in_pipe[1]);
    }
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::map<std::string, std::string>& env,
                                     const std::filesystem::path& stdout_file,
                                     const std::filesystem::path& stderr_file) {
    m_pid = ::fork();
    if (m_pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (m_pid == 0) {
        int out = ::open(stdout_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(err, 2);
        exec_child(argv, env);
    }
}

BackgroundProcess::~BackgroundProcess() {
    if (!m_reaped && m_pid > 0) {
        ::kill(m_pid, SIGKILL);
        int status;
        ::waitpid(m_pid, &status, 0);
    }
}

void BackgroundProcess::kill_now(int signal) {
    if (!m_reaped) {
        ::kill(m_pid, signal);
    }
}

std::optional<int> BackgroundProcess::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = ::waitpid(m_pid, &status, WNOHANG);
        if (r == m_pid) {
            m_reaped = true;
            return status;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool BackgroundProcess::running() {
    if (m_reaped) {
        return false;
    }
    return !wait(std::chrono::milliseconds(0)).has_value();
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::optional<int> listening_port(const std::filesystem::path& stdout_file) {
    constexpr std::string_view k_prefix = "listening on 127.0.0.1:";
    std::string text = read_file(stdout_file);
    auto pos = text.find(k_prefix);
    auto eol = text.find('\n', pos);
    if (pos == std::string::npos || eol == std::string::npos) {
        return std::nullopt;
    }
    return std::stoi(text.substr(pos + k_prefix.size(), eol - pos - k_prefix.size()));
}

} // namespace caravan::test
