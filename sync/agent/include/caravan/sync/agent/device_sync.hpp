#pragma once
// One sync or one enrollment of a device database, with everything around the agent that every
// front end needs (the CLI's `caravan sync` / `caravan enroll`, the lawyer's app): the sync lock,
// the enrollment's server and CA file, the libcurl transport, the agent. A front end only
// chooses the options and shows the progress and the report.

#include <filesystem>
#include <optional>
#include <string>

#include "caravan/client/engine.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/sync_agent.hpp"

namespace caravan::sync::agent {

// Link settings a caller may change (tests, link experiments); absent: the transport's defaults.
struct LinkTweaks {
    std::optional<long> connect_timeout_s;
    std::optional<long> low_speed_time_s;
};

// Takes the sync lock of `database` (waiting for a sync already running when `wait_for_lock`,
// else `busy`), reads the enrollment (not_initialized, msg::not_enrolled, before
// `caravan enroll`), and runs one sync with `engine` (opened on `database`). The report's error
// says how the sync itself ended; an error here means it did not start.
[[nodiscard]] Result<SyncReport> sync_device(client::Engine& engine,
                                             const std::filesystem::path& database,
                                             const SyncOptions& options, AgentEnvironment env,
                                             bool wait_for_lock = false, LinkTweaks link = {});

// What a front end needs to say about the device's sync without syncing.
struct SyncOverview {
    std::optional<Enrollment> enrollment; // without its token
    std::optional<SyncLogEntry> last;     // the latest run, whatever its result
    std::optional<SyncLogEntry> last_ok;  // the latest run that completed
    std::int64_t quarantined = 0;
};
[[nodiscard]] Result<SyncOverview> sync_overview(client::Engine& engine);

// `server` as typed (normalized; a plain-http address other than loopback is refused unless
// `insecure_http`), `code` as typed, `ca_file` an existing file. Takes the sync lock and
// enrolls; the token is stored, never returned.
struct DeviceEnrollRequest {
    std::string server;
    std::string code;
    std::optional<std::filesystem::path> ca_file;
    bool insecure_http = false;
};
[[nodiscard]] Result<EnrollResult> enroll_device(client::Engine& engine,
                                                 const std::filesystem::path& database,
                                                 const DeviceEnrollRequest& request,
                                                 AgentEnvironment env);

} // namespace caravan::sync::agent
