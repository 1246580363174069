#pragma once
// The nightly sync schedule: a systemd user timer (Persistent=true, so a laptop that was off at
// the set time syncs at the next boot) or, where there is no systemd user instance, a crontab
// entry (plus an @reboot line as the catch-up).
//
// Which scheduler: $CARAVAN_SCHEDULER when set, else systemd when `systemctl --user` answers,
// else cron. Values of CARAVAN_SCHEDULER:
//   systemd             unit files + `systemctl --user daemon-reload / enable --now / disable`
//   systemd-files       unit files only, no systemctl call (tests, or images built offline)
//   cron                the user's crontab through `crontab -l` / `crontab -`
//   cron-file:<path>    a file standing in for the crontab (tests)
// One schedule per device database, named after it: `schedule_name(database)` is
// "caravan-sync-<8 hex digits of a hash of the absolute path>". Unit files go to
// $XDG_CONFIG_HOME/systemd/user (default ~/.config/systemd/user) as <name>.service and
// <name>.timer; crontab lines end with the marker "# <name>" so that removal finds exactly them.
// Installing for a second database leaves the first one's schedule alone. A schedule written by
// an older version (caravan-sync.service/.timer, or lines ending "# caravan-sync") is taken over
// when it runs the same database, and left alone otherwise.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::sync::agent {

struct ClockTime {
    int hour = 0;
    int minute = 0;
    [[nodiscard]] std::string text() const; // "HH:MM"
};

// "2:00", "02:00" → {2, 0}; invalid_input otherwise.
[[nodiscard]] Result<ClockTime> parse_clock_time(std::string_view text);

// The deadline `sync --until HH:MM` means at `now`: the next moment the local clock shows `at`,
// if that is more than a minute and at most 12 hours ahead. Otherwise the time is taken as
// already passed (a run started at or just after its own deadline, or a nightly run caught up
// in the morning) and the answer is nullopt: sync once, without retrying.
[[nodiscard]] std::optional<std::chrono::system_clock::time_point>
retry_deadline(const ClockTime& at, std::chrono::system_clock::time_point now);

struct ScheduleSpec {
    ClockTime at;
    int window_minutes = 240;       // `sync --until` at + window
    std::filesystem::path caravan;  // absolute path of the caravan binary
    std::filesystem::path database; // absolute path of the device database
};

enum class SchedulerKind { systemd, systemd_files, cron, cron_file };

struct Scheduler {
    SchedulerKind kind = SchedulerKind::systemd_files;
    std::filesystem::path unit_dir;  // systemd kinds
    std::filesystem::path cron_file; // cron_file kind
    [[nodiscard]] std::string name() const;
};

struct ScheduleStatus {
    bool installed = false;
    std::string name;                    // schedule_name(database)
    std::string scheduler;               // Scheduler::name()
    std::optional<std::string> at;       // "HH:MM"
    std::optional<std::string> command;  // what runs
    std::optional<std::string> next_run; // systemd only, as systemctl prints it
    std::vector<std::string> files;      // unit files or crontab lines
};

// Reads CARAVAN_SCHEDULER / probes `systemctl --user`.
[[nodiscard]] Result<Scheduler> detect_scheduler();

[[nodiscard]] std::string systemd_service_text(const ScheduleSpec& spec);
[[nodiscard]] std::string systemd_timer_text(const ScheduleSpec& spec);
[[nodiscard]] std::vector<std::string> cron_lines(const ScheduleSpec& spec);

// "caravan-sync-1a2b3c4d": the name of `database`'s schedule (an absolute, normal path).
[[nodiscard]] std::string schedule_name(const std::filesystem::path& database);

// Replaces the schedule of spec.database (and an older version's schedule of the same
// database); other databases' schedules are kept. Returns a one-line description.
[[nodiscard]] Result<std::string> install_schedule(const Scheduler& scheduler,
                                                   const ScheduleSpec& spec);
// The schedule of `database` (an absolute, normal path).
[[nodiscard]] Result<ScheduleStatus> schedule_status(const Scheduler& scheduler,
                                                     const std::filesystem::path& database);
// Removes the schedule of `database`; true when something was removed. A crontab left with
// nothing but blank lines is removed as a whole.
[[nodiscard]] Result<bool> remove_schedule(const Scheduler& scheduler,
                                           const std::filesystem::path& database);

// What an older version wrote: one schedule per user account, under these names.
inline constexpr std::string_view k_legacy_name = "caravan-sync";

} // namespace caravan::sync::agent
