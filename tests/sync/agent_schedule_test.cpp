// `caravan schedule`: unit files and crontab lines, written where tests point them
// (XDG_CONFIG_HOME, CARAVAN_SCHEDULER=systemd-files | cron-file:PATH), never on the real system.
#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/sync/agent/schedule.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::test;
namespace ag = caravan::sync::agent;
using nlohmann::json;

namespace {

ProcessResult caravan_cmd(const TempDir& dir, const std::map<std::string, std::string>& env,
                          std::vector<std::string> args) {
    std::vector<std::string> argv = {binary("caravan").string(), "--db",
                                     (dir / "laptop.db").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, env);
}

// The environment under which `caravan schedule` writes systemd unit files below `dir`/config.
std::map<std::string, std::string> systemd_files_env(const TempDir& dir) {
    return {{"XDG_CONFIG_HOME", (dir / "config").string()}, {"CARAVAN_SCHEDULER", "systemd-files"}};
}

// `caravan init` of the laptop's database (Арнат, Жамбыл обл.), which must succeed.
void init_laptop(const TempDir& dir, const std::map<std::string, std::string>& env) {
    REQUIRE(
        caravan_cmd(dir, env, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."}).exit_code ==
        0);
}

// A local time `minutes` from now, as HH:MM, and the moment it names.
ag::ClockTime local_in(std::chrono::minutes minutes) {
    std::time_t t =
        std::chrono::system_clock::to_time_t(std::chrono::system_clock::now() + minutes);
    std::tm local{};
    localtime_r(&t, &local);
    return ag::ClockTime{local.tm_hour, local.tm_min};
}

} // namespace

TEST_CASE("schedule: --until a time already passed means one attempt now, not tomorrow",
          "[agent][schedule]") {
    auto now = std::chrono::system_clock::now();
    // Regression: `sync --until 14:06` started at 14:06 retried for ~24 h.
    REQUIRE(!ag::retry_deadline(local_in(std::chrono::minutes(0)), now));
    // Five minutes ago: tomorrow would be ~24 h of silent retrying.
    REQUIRE(!ag::retry_deadline(local_in(std::chrono::minutes(-5)), now));
    // A nightly run caught up in the morning (window ended three hours ago).
    REQUIRE(!ag::retry_deadline(local_in(std::chrono::minutes(-180)), now));
    auto soon = ag::retry_deadline(local_in(std::chrono::minutes(30)), now);
    REQUIRE(soon);
    REQUIRE(*soon > now + std::chrono::minutes(28));
    REQUIRE(*soon <= now + std::chrono::minutes(30));
    // Past midnight is still tonight: four hours ahead.
    auto later = ag::retry_deadline(local_in(std::chrono::minutes(240)), now);
    REQUIRE(later);
    REQUIRE(*later <= now + std::chrono::minutes(240));
}

TEST_CASE("schedule: sync --until a passed time says so and makes one attempt",
          "[agent][schedule]") {
    TempDir dir;
    REQUIRE(
        caravan_cmd(dir, {}, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."}).exit_code ==
        0);
    ag::ClockTime now = local_in(std::chrono::minutes(0));
    for (const char* lang : {"en", "ru", "kk"}) {
        INFO(lang);
        auto r = caravan_cmd(dir, {}, {"--lang", lang, "sync", "--until", now.text()});
        REQUIRE(r.exit_code != 0); // not enrolled: the one attempt fails at once
        REQUIRE(r.err.find("--until " + now.text()) != std::string::npos);
        if (std::string(lang) == "en") {
            REQUIRE(r.err.find("syncing once, without retrying") != std::string::npos);
        }
    }
}

TEST_CASE("schedule: times of day parse strictly", "[agent][schedule]") {
    auto t = ag::parse_clock_time("2:05");
    REQUIRE(t);
    REQUIRE(t->text() == "02:05");
    REQUIRE(ag::parse_clock_time("23:59"));
    for (const char* bad : {"24:00", "12:60", "12", "12:5", "ab:cd", "", ":30", "123:00"}) {
        INFO(bad);
        REQUIRE(!ag::parse_clock_time(bad));
    }
}

TEST_CASE("schedule: the systemd timer catches up after the laptop was off and the service "
          "retries until the end of the window",
          "[agent][schedule]") {
    ag::ScheduleSpec spec{{2, 0}, 240, "/opt/caravan dir/caravan", "/home/l/100%/caravan.db"};
    std::string timer = ag::systemd_timer_text(spec);
    REQUIRE(timer.find("OnCalendar=*-*-* 02:00:00\n") != std::string::npos);
    REQUIRE(timer.find("Persistent=true\n") != std::string::npos);
    REQUIRE(timer.find("RandomizedDelaySec=") != std::string::npos);
    REQUIRE(timer.find("WantedBy=timers.target") != std::string::npos);
    std::string service = ag::systemd_service_text(spec);
    // Quoted words; % and $ escaped for systemd.
    REQUIRE(service.find("ExecStart=\"/opt/caravan dir/caravan\" --db \"/home/l/100%%/caravan.db\""
                         " sync --until 06:00\n") != std::string::npos);
    REQUIRE(service.find("Type=oneshot") != std::string::npos);

    ag::ScheduleSpec late{{22, 30}, 240, "/usr/bin/caravan", "/d.db"};
    REQUIRE(ag::systemd_service_text(late).find("--until 02:30") != std::string::npos);
    auto lines = ag::cron_lines(late);
    REQUIRE(lines.size() == 2);
    REQUIRE(lines[0].starts_with("30 22 * * * '/usr/bin/caravan' --db '/d.db' sync --until "
                                 "02:30"));
    REQUIRE(lines[0].ends_with("# " + ag::schedule_name("/d.db")));
    REQUIRE(lines[1].starts_with("@reboot "));
}

TEST_CASE("caravan schedule install/status/remove with systemd unit files", "[agent][schedule]") {
    TempDir dir;
    std::map<std::string, std::string> env = systemd_files_env(dir);
    init_laptop(dir, env);
    ProcessResult install = caravan_cmd(dir, env, {"schedule", "install", "--at", "01:30"});
    INFO(install.err);
    REQUIRE(install.exit_code == 0);
    auto unit_dir = dir / "config" / "systemd" / "user";
    const std::string name = ag::schedule_name(dir / "laptop.db");
    std::string timer = read_file(unit_dir / (name + ".timer"));
    std::string service = read_file(unit_dir / (name + ".service"));
    REQUIRE(timer.find("OnCalendar=*-*-* 01:30:00") != std::string::npos);
    REQUIRE(service.find(binary("caravan").string()) != std::string::npos);
    REQUIRE(service.find("--db \"" + (dir / "laptop.db").string() + "\" sync --until 05:30") !=
            std::string::npos);

    ProcessResult status = caravan_cmd(dir, env, {"schedule", "status", "--json"});
    REQUIRE(status.exit_code == 0);
    json st = json::parse(status.out);
    REQUIRE(st["installed"] == true);
    REQUIRE(st["at"] == "01:30");
    REQUIRE(st["scheduler"] == "systemd-files");
    REQUIRE(st["last_sync"].is_null());

    // Installing again replaces, never duplicates.
    REQUIRE(caravan_cmd(dir, env, {"schedule", "install", "--at", "03:00"}).exit_code == 0);
    REQUIRE(read_file(unit_dir / (name + ".timer")).find("03:00:00") != std::string::npos);

    REQUIRE(caravan_cmd(dir, env, {"schedule", "remove"}).exit_code == 0);
    REQUIRE(!std::filesystem::exists(unit_dir / (name + ".timer")));
    REQUIRE(!std::filesystem::exists(unit_dir / (name + ".service")));
    st = json::parse(caravan_cmd(dir, env, {"schedule", "status", "--json"}).out);
    REQUIRE(st["installed"] == false);
}

TEST_CASE("caravan schedule with cron keeps the user's other lines", "[agent][schedule]") {
    TempDir dir;
    auto crontab = dir / "crontab";
    {
        std::ofstream out(crontab);
        out << "MAILTO=\"\"\n15 * * * * /usr/bin/backup-photos\n";
    }
    std::map<std::string, std::string> env = {
        {"CARAVAN_SCHEDULER", "cron-file:" + crontab.string()}};
    init_laptop(dir, env);
    REQUIRE(caravan_cmd(dir, env, {"schedule", "install", "--at", "02:00"}).exit_code == 0);
    REQUIRE(caravan_cmd(dir, env, {"schedule", "install", "--at", "02:15"}).exit_code == 0);
    std::string text = read_file(crontab);
    REQUIRE(text.find("15 * * * * /usr/bin/backup-photos\n") != std::string::npos);
    REQUIRE(text.find("15 2 * * * '") != std::string::npos);
    REQUIRE(text.find("0 2 * * *") == std::string::npos); // replaced
    std::size_t ours = 0;
    const std::string marker = "# " + ag::schedule_name(dir / "laptop.db");
    for (std::size_t pos = 0; (pos = text.find(marker, pos)) != std::string::npos; ++pos) {
        ++ours;
    }
    REQUIRE(ours == 2); // the daily line and the @reboot catch-up

    json st = json::parse(caravan_cmd(dir, env, {"schedule", "status", "--json"}).out);
    REQUIRE(st["installed"] == true);
    REQUIRE(st["at"] == "02:15");

    REQUIRE(caravan_cmd(dir, env, {"schedule", "remove"}).exit_code == 0);
    REQUIRE(read_file(crontab) == "MAILTO=\"\"\n15 * * * * /usr/bin/backup-photos\n");
}

TEST_CASE("caravan schedule: a bad time or scheduler is bad input (exit 2)", "[agent][schedule]") {
    TempDir dir;
    std::map<std::string, std::string> env = systemd_files_env(dir);
    init_laptop(dir, env);
    REQUIRE(caravan_cmd(dir, env, {"schedule", "install", "--at", "25:00"}).exit_code == 2);
    // A window past 12 h would be read back by `sync --until` as a time already passed.
    REQUIRE(caravan_cmd(dir, env, {"schedule", "install", "--window-hours", "13"}).exit_code == 2);
    env["CARAVAN_SCHEDULER"] = "launchd";
    REQUIRE(caravan_cmd(dir, env, {"schedule", "status"}).exit_code == 2);
}

// Regression: `schedule install` for a second database silently replaced the first one's
// schedule, and `schedule remove` left an empty crontab behind.
TEST_CASE("caravan schedule: one schedule per database, each named after it", "[agent][schedule]") {
    TempDir dir;
    auto crontab = dir / "crontab";
    const auto unit_dir = dir / "config" / "systemd" / "user";
    auto cmd = [&](const std::map<std::string, std::string>& env, const std::string& db,
                   std::vector<std::string> args) {
        std::vector<std::string> argv = {binary("caravan").string(), "--db", (dir / db).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(argv, env);
    };
    for (const char* db : {"a.db", "b.db"}) {
        REQUIRE(cmd({}, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."}).exit_code ==
                0);
    }
    const std::string a = ag::schedule_name(dir / "a.db"), b = ag::schedule_name(dir / "b.db");
    REQUIRE(a != b);
    REQUIRE(a.starts_with("caravan-sync-"));

    SECTION("cron") {
        std::map<std::string, std::string> env = {
            {"CARAVAN_SCHEDULER", "cron-file:" + crontab.string()}};
        REQUIRE(cmd(env, "a.db", {"schedule", "install", "--at", "02:00"}).exit_code == 0);
        REQUIRE(cmd(env, "b.db", {"schedule", "install", "--at", "03:00"}).exit_code == 0);
        std::string text = read_file(crontab);
        REQUIRE(text.find("0 2 * * * ") != std::string::npos); // a's is still there
        REQUIRE(text.find("0 3 * * * ") != std::string::npos);
        json st = json::parse(cmd(env, "a.db", {"schedule", "status", "--json"}).out);
        REQUIRE(st["at"] == "02:00");
        REQUIRE(st["name"] == a);
        REQUIRE(json::parse(cmd(env, "b.db", {"schedule", "status", "--json"}).out)["at"] ==
                "03:00");

        REQUIRE(cmd(env, "a.db", {"schedule", "remove"}).exit_code == 0);
        text = read_file(crontab);
        REQUIRE(text.find("0 2 * * * ") == std::string::npos);
        REQUIRE(text.find("0 3 * * * ") != std::string::npos);
        REQUIRE(cmd(env, "b.db", {"schedule", "remove"}).exit_code == 0);
        REQUIRE(!std::filesystem::exists(crontab)); // nothing left: no empty crontab
    }
    SECTION("systemd units, and an older version's single schedule is taken over") {
        std::map<std::string, std::string> env = systemd_files_env(dir);
        std::filesystem::create_directories(unit_dir);
        {
            // What the previous version wrote for a.db.
            ag::ScheduleSpec old{{1, 0}, 240, binary("caravan"), dir / "a.db"};
            std::ofstream(unit_dir / "caravan-sync.service") << ag::systemd_service_text(old);
            std::ofstream(unit_dir / "caravan-sync.timer") << ag::systemd_timer_text(old);
        }
        REQUIRE(json::parse(cmd(env, "a.db", {"schedule", "status", "--json"}).out)["at"] ==
                "01:00");
        REQUIRE(json::parse(cmd(env, "b.db", {"schedule", "status", "--json"}).out)["installed"] ==
                false);
        REQUIRE(cmd(env, "b.db", {"schedule", "install", "--at", "03:00"}).exit_code == 0);
        REQUIRE(std::filesystem::exists(unit_dir / "caravan-sync.timer")); // a's, not b's
        REQUIRE(cmd(env, "a.db", {"schedule", "install", "--at", "02:00"}).exit_code == 0);
        REQUIRE(!std::filesystem::exists(unit_dir / "caravan-sync.timer")); // taken over
        REQUIRE(read_file(unit_dir / (a + ".timer")).find("02:00:00") != std::string::npos);
        REQUIRE(read_file(unit_dir / (b + ".timer")).find("03:00:00") != std::string::npos);
        REQUIRE(read_file(unit_dir / (a + ".service"))
                    .find("Description=Caravan nightly sync of " + (dir / "a.db").string()) !=
                std::string::npos);
        REQUIRE(cmd(env, "a.db", {"schedule", "remove"}).exit_code == 0);
        REQUIRE(!std::filesystem::exists(unit_dir / (a + ".timer")));
        REQUIRE(std::filesystem::exists(unit_dir / (b + ".timer")));
    }
}
