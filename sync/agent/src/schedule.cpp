#include "caravan/sync/agent/schedule.hpp"
#include "caravan/sync/agent/messages.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <system_error>

namespace caravan::sync::agent {

namespace fs = std::filesystem;

namespace {

struct CommandResult {
    int exit_code = -1;
    std::string out;
};

// Runs a fixed program (no shell) with optional stdin, capturing stdout; stderr is discarded.
// Inputs are small (a crontab), so writing all of stdin before reading stdout cannot deadlock.
CommandResult run_command(const std::vector<std::string>& argv, const std::string* input) {
    CommandResult result;
    int in_pipe[2], out_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) {
        return result;
    }
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(in_pipe[0]);
        ::close(in_pipe[1]);
        return result;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        ::dup2(out_pipe[1], 1);
        int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) {
            ::dup2(null, 2);
        }
        std::vector<char*> args;
        for (const auto& a : argv) {
            args.push_back(const_cast<char*>(a.c_str()));
        }
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    if (pid < 0) {
        ::close(in_pipe[1]);
        ::close(out_pipe[0]);
        return result;
    }
    if (input) {
        std::size_t written = 0;
        while (written < input->size()) {
            ssize_t n = ::write(in_pipe[1], input->data() + written, input->size() - written);
            if (n <= 0) {
                break;
            }
            written += static_cast<std::size_t>(n);
        }
    }
    ::close(in_pipe[1]);
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out_pipe[0], buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        result.out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out_pipe[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
}

fs::path unit_dir() {
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
        return fs::path(xdg) / "systemd" / "user";
    }
    const char* home = std::getenv("HOME");
    return fs::path(home && *home ? home : ".") / ".config" / "systemd" / "user";
}

fs::path service_path(const Scheduler& s, std::string_view name) {
    return s.unit_dir / (std::string(name) + ".service");
}
fs::path timer_path(const Scheduler& s, std::string_view name) {
    return s.unit_dir / (std::string(name) + ".timer");
}

// A word of a systemd ExecStart line: quoted, with the specifier and variable characters
// escaped (systemd.service(5), "Command lines").
std::string systemd_word(const std::string& word) {
    std::string out = "\"";
    for (char c : word) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '%') {
            out += "%%";
        } else if (c == '$') {
            out += "$$";
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Free text in a unit file (a Description): specifiers escaped, one line.
std::string systemd_text(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == '%') {
            out += "%%";
        } else if (static_cast<unsigned char>(c) < 0x20) {
            out += '?';
        } else {
            out += c;
        }
    }
    return out;
}

// A word of a crontab command: single-quoted for sh; '%' is special to cron itself.
std::string cron_word(const std::string& word) {
    std::string out = "'";
    for (char c : word) {
        if (c == '\'') {
            out += "'\\''";
        } else if (c == '%') {
            out += "\\%";
        } else {
            out += c;
        }
    }
    return out + "'";
}

ClockTime until_of(const ScheduleSpec& spec) {
    int minutes = (spec.at.hour * 60 + spec.at.minute + spec.window_minutes) % (24 * 60);
    return {minutes / 60, minutes % 60};
}

Result<void> write_file(const fs::path& path, const std::string& text) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
        return fail(ErrorCode::io, msg::schedule_cannot_create, path.parent_path().string());
    }
    fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) {
            return fail(ErrorCode::io, msg::schedule_cannot_write, tmp.string());
        }
    }
    fs::rename(tmp, path, ec);
    if (ec) {
        return fail(ErrorCode::io, msg::schedule_cannot_write, path.string());
    }
    return {};
}

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

std::string cron_marker(std::string_view name) {
    return "# " + std::string(name);
}

// A crontab line of `database`'s schedule: its own marker, or an older version's marker on a
// line that runs the same database.
bool is_ours(const std::string& line, const fs::path& database) {
    if (line.ends_with(cron_marker(schedule_name(database)))) {
        return true;
    }
    return line.ends_with(cron_marker(k_legacy_name)) &&
           line.find(" --db " + cron_word(database.string()) + " ") != std::string::npos;
}

bool blank(const std::string& text) {
    return text.find_first_not_of(" \t\r\n") == std::string::npos;
}

Result<std::string> read_crontab(const Scheduler& s) {
    if (s.kind == SchedulerKind::cron_file) {
        return read_text(s.cron_file);
    }
    // `crontab -l` fails when the user has no crontab yet: that is an empty one.
    CommandResult r = run_command({"crontab", "-l"}, nullptr);
    if (r.exit_code == 127 || r.exit_code < 0) {
        return fail(ErrorCode::not_found, msg::crontab_missing);
    }
    return r.exit_code == 0 ? r.out : std::string();
}

// Writes the crontab; one with nothing left in it is removed rather than left empty.
Result<void> write_crontab(const Scheduler& s, const std::string& text) {
    if (s.kind == SchedulerKind::cron_file) {
        if (blank(text)) {
            std::error_code ec;
            fs::remove(s.cron_file, ec);
            if (ec) {
                return fail(ErrorCode::io, msg::schedule_cannot_write, s.cron_file.string());
            }
            return {};
        }
        return write_file(s.cron_file, text);
    }
    if (blank(text)) {
        // `crontab -r` fails when there is no crontab: nothing to remove, which is fine.
        (void)run_command({"crontab", "-r"}, nullptr);
        return {};
    }
    CommandResult r = run_command({"crontab", "-"}, &text);
    if (r.exit_code != 0) {
        return fail(ErrorCode::io, msg::crontab_refused);
    }
    return {};
}

Result<void> systemctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"systemctl", "--user"};
    argv.insert(argv.end(), args.begin(), args.end());
    CommandResult r = run_command(argv, nullptr);
    if (r.exit_code != 0) {
        std::string joined;
        for (const auto& a : args) {
            joined += " " + a;
        }
        return fail(ErrorCode::io, msg::systemctl_failed, joined, r.exit_code);
    }
    return {};
}

std::string caravan_command(const ScheduleSpec& spec, std::string (*quote)(const std::string&)) {
    return quote(spec.caravan.string()) + " --db " + quote(spec.database.string()) +
           " sync --until " + until_of(spec).text();
}

} // namespace

std::string ClockTime::text() const {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", hour % 100, minute % 100);
    return buf;
}

Result<ClockTime> parse_clock_time(std::string_view text) {
    auto bad = [] { return fail(ErrorCode::invalid_input, msg::time_of_day); };
    auto colon = text.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
        return bad();
    }
    int h = 0, m = 0;
    for (char c : text.substr(0, colon)) {
        if (c < '0' || c > '9') {
            return bad();
        }
        h = h * 10 + (c - '0');
    }
    for (char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9') {
            return bad();
        }
        m = m * 10 + (c - '0');
    }
    if (h > 23 || m > 59) {
        return bad();
    }
    return ClockTime{h, m};
}

std::optional<std::chrono::system_clock::time_point>
retry_deadline(const ClockTime& at, std::chrono::system_clock::time_point now) {
    using std::chrono::system_clock;
    std::time_t t = system_clock::to_time_t(now);
    std::tm local{};
    localtime_r(&t, &local);
    local.tm_hour = at.hour;
    local.tm_min = at.minute;
    local.tm_sec = 0;
    local.tm_isdst = -1;
    auto candidate = system_clock::from_time_t(std::mktime(&local));
    if (candidate <= now) {
        local.tm_mday += 1; // mktime normalises the day and finds tomorrow's offset
        local.tm_isdst = -1;
        candidate = system_clock::from_time_t(std::mktime(&local));
    }
    auto ahead = candidate - now;
    if (ahead <= std::chrono::minutes(1) || ahead > std::chrono::hours(12)) {
        return std::nullopt;
    }
    return candidate;
}

std::string Scheduler::name() const {
    switch (kind) {
    case SchedulerKind::systemd:
        return "systemd";
    case SchedulerKind::systemd_files:
        return "systemd-files";
    case SchedulerKind::cron:
        return "cron";
    case SchedulerKind::cron_file:
        return "cron-file:" + cron_file.string();
    }
    return "?";
}

Result<Scheduler> detect_scheduler() {
    Scheduler s;
    s.unit_dir = unit_dir();
    std::string wanted;
    if (const char* env = std::getenv("CARAVAN_SCHEDULER"); env && *env) {
        wanted = env;
    }
    if (wanted == "systemd") {
        s.kind = SchedulerKind::systemd;
    } else if (wanted == "systemd-files") {
        s.kind = SchedulerKind::systemd_files;
    } else if (wanted == "cron") {
        s.kind = SchedulerKind::cron;
    } else if (wanted.starts_with("cron-file:") && wanted.size() > 10) {
        s.kind = SchedulerKind::cron_file;
        s.cron_file = wanted.substr(10);
    } else if (!wanted.empty()) {
        return fail(ErrorCode::invalid_input, msg::scheduler_env);
    } else if (run_command({"systemctl", "--user", "show-environment"}, nullptr).exit_code == 0) {
        s.kind = SchedulerKind::systemd;
    } else if (run_command({"sh", "-c", "command -v crontab"}, nullptr).exit_code == 0) {
        s.kind = SchedulerKind::cron;
    } else {
        return fail(ErrorCode::not_found, msg::no_scheduler);
    }
    return s;
}

std::string systemd_service_text(const ScheduleSpec& spec) {
    return "# Written by `caravan schedule install`; remove with `caravan schedule remove`.\n"
           "[Unit]\n"
           "Description=Caravan nightly sync of " +
           systemd_text(spec.database.string()) +
           " (push records, pull changes)\n"
           "\n"
           "[Service]\n"
           "Type=oneshot\n"
           "ExecStart=" +
           caravan_command(spec, &systemd_word) +
           "\n"
           "Nice=10\n"
           "# 3: another sync was already running, which is fine.\n"
           "SuccessExitStatus=3\n";
}

std::string systemd_timer_text(const ScheduleSpec& spec) {
    return "# Written by `caravan schedule install`; remove with `caravan schedule remove`.\n"
           "[Unit]\n"
           "Description=Caravan nightly sync of " +
           systemd_text(spec.database.string()) + " at " + spec.at.text() +
           "\n"
           "\n"
           "[Timer]\n"
           "OnCalendar=*-*-* " +
           spec.at.text() +
           ":00\n"
           "# Catch up at the next start when the laptop was off at that time.\n"
           "Persistent=true\n"
           "RandomizedDelaySec=300\n"
           "\n"
           "[Install]\n"
           "WantedBy=timers.target\n";
}

std::vector<std::string> cron_lines(const ScheduleSpec& spec) {
    std::string command = caravan_command(spec, &cron_word) + " >/dev/null 2>&1";
    std::string marker = cron_marker(schedule_name(spec.database));
    return {std::to_string(spec.at.minute) + " " + std::to_string(spec.at.hour) + " * * * " +
                command + " " + marker,
            // cron has no catch-up for missed runs: try once a little after each boot.
            "@reboot sleep 120; " + command + " " + marker};
}

std::string schedule_name(const fs::path& database) {
    // FNV-1a: stable across versions and machines, unlike std::hash.
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : database.string()) {
        h = (h ^ c) * 1099511628211ULL;
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>((h >> 32) ^ h));
    return std::string(k_legacy_name) + "-" + buf;
}

namespace {

// The older version's units, when their service runs `database`.
bool legacy_units_run(const Scheduler& s, const fs::path& database) {
    std::string service = read_text(service_path(s, k_legacy_name));
    return service.find(" --db " + systemd_word(database.string()) + " ") != std::string::npos;
}

// Stops and deletes the units `name`; true when there were any.
bool remove_units(const Scheduler& s, std::string_view name) {
    bool present = fs::exists(timer_path(s, name)) || fs::exists(service_path(s, name));
    if (s.kind == SchedulerKind::systemd && present) {
        // Stop and disable first; a unit that was never enabled is not an error here.
        (void)systemctl({"disable", "--now", std::string(name) + ".timer"});
    }
    std::error_code ec;
    fs::remove(timer_path(s, name), ec);
    fs::remove(service_path(s, name), ec);
    return present;
}

} // namespace

Result<std::string> install_schedule(const Scheduler& s, const ScheduleSpec& spec) {
    if (!spec.caravan.is_absolute() || !spec.database.is_absolute()) {
        // i18n-exempt: a bug in the caller (the CLI always passes absolute paths)
        return fail(ErrorCode::internal, "schedule paths must be absolute");
    }
    const std::string name = schedule_name(spec.database);
    std::string summary =
        "sync daily at " + spec.at.text() + ", retrying until " + until_of(spec).text();
    if (s.kind == SchedulerKind::systemd || s.kind == SchedulerKind::systemd_files) {
        if (legacy_units_run(s, spec.database)) {
            (void)remove_units(s, k_legacy_name);
        }
        if (auto ok = write_file(service_path(s, name), systemd_service_text(spec)); !ok) {
            return tl::unexpected(ok.error());
        }
        if (auto ok = write_file(timer_path(s, name), systemd_timer_text(spec)); !ok) {
            return tl::unexpected(ok.error());
        }
        if (s.kind == SchedulerKind::systemd) {
            for (const auto& args : std::vector<std::vector<std::string>>{
                     {"daemon-reload"}, {"enable", "--now", name + ".timer"}}) {
                if (auto ok = systemctl(args); !ok) {
                    return tl::unexpected(ok.error());
                }
            }
        }
        return "systemd user timer " + name + ".timer (" + timer_path(s, name).string() +
               "): " + summary;
    }
    auto current = read_crontab(s);
    if (!current) {
        return tl::unexpected(current.error());
    }
    std::string text;
    for (const auto& line : split_lines(*current)) {
        if (!is_ours(line, spec.database)) {
            text += line + "\n";
        }
    }
    for (const auto& line : cron_lines(spec)) {
        text += line + "\n";
    }
    if (auto ok = write_crontab(s, text); !ok) {
        return tl::unexpected(ok.error());
    }
    return "crontab entry " + name + " (" + s.name() + "): " + summary;
}

Result<ScheduleStatus> schedule_status(const Scheduler& s, const fs::path& database) {
    ScheduleStatus st;
    st.scheduler = s.name();
    st.name = schedule_name(database);
    if (s.kind == SchedulerKind::systemd || s.kind == SchedulerKind::systemd_files) {
        std::string unit = st.name;
        if (!fs::exists(timer_path(s, unit)) && legacy_units_run(s, database)) {
            unit = k_legacy_name;
        }
        std::string timer = read_text(timer_path(s, unit));
        std::string service = read_text(service_path(s, unit));
        st.installed = !timer.empty() && !service.empty();
        if (!st.installed) {
            return st;
        }
        st.files = {service_path(s, unit).string(), timer_path(s, unit).string()};
        for (const auto& line : split_lines(timer)) {
            if (line.starts_with("OnCalendar=*-*-* ") && line.size() >= 22) {
                st.at = line.substr(17, 5);
            }
        }
        for (const auto& line : split_lines(service)) {
            if (line.starts_with("ExecStart=")) {
                st.command = line.substr(10);
            }
        }
        if (s.kind == SchedulerKind::systemd) {
            CommandResult r = run_command({"systemctl", "--user", "show", "--value", "-p",
                                           "NextElapseUSecRealtime", unit + ".timer"},
                                          nullptr);
            if (r.exit_code == 0 && !r.out.empty()) {
                while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == ' ')) {
                    r.out.pop_back();
                }
                if (!r.out.empty()) {
                    st.next_run = r.out;
                }
            }
        }
        return st;
    }
    auto current = read_crontab(s);
    if (!current) {
        return tl::unexpected(current.error());
    }
    for (const auto& line : split_lines(*current)) {
        if (!is_ours(line, database)) {
            continue;
        }
        st.installed = true;
        st.files.push_back(line);
        if (!line.starts_with("@")) {
            std::istringstream in(line);
            int minute = 0, hour = 0;
            if (in >> minute >> hour) {
                st.at = ClockTime{hour, minute}.text();
            }
            auto star = line.find("* * * ");
            if (star != std::string::npos) {
                st.command = line.substr(star + 6);
            }
        }
    }
    return st;
}

Result<bool> remove_schedule(const Scheduler& s, const fs::path& database) {
    if (s.kind == SchedulerKind::systemd || s.kind == SchedulerKind::systemd_files) {
        bool removed = remove_units(s, schedule_name(database));
        if (legacy_units_run(s, database)) {
            removed = remove_units(s, k_legacy_name) || removed;
        }
        if (s.kind == SchedulerKind::systemd && removed) {
            (void)systemctl({"daemon-reload"});
        }
        return removed;
    }
    auto current = read_crontab(s);
    if (!current) {
        return tl::unexpected(current.error());
    }
    std::string text;
    bool removed = false;
    for (const auto& line : split_lines(*current)) {
        if (is_ours(line, database)) {
            removed = true;
        } else {
            text += line + "\n";
        }
    }
    if (removed) {
        if (auto ok = write_crontab(s, text); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return removed;
}

} // namespace caravan::sync::agent
