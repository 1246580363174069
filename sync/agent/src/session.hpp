#pragma once
// What one run of the agent (a sync, an enrollment or a verify) shares between its parts
// (exchanger, pusher, rotation, puller, epoch resync, verify): the engine, the agent's state in
// the device database, the identity the run speaks as, the environment and the run's counters.
// Persistent state lives in the database only; a Session lives for one SyncAgent call.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/client/engine.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/sync_agent.hpp"

namespace caravan::sync::agent {

// ISO 8601 UTC with milliseconds.
[[nodiscard]] std::string iso_of(TimePoint t);

struct Session {
    Session(client::Engine& engine, const AgentEnvironment& env, const SyncTuning& tuning,
            std::optional<TimePoint> until);

    client::Engine& engine;
    AgentState state;
    const AgentEnvironment& env;
    const SyncTuning tuning;
    const std::optional<TimePoint> until; // no wait that would end later is started
    SyncReport report;
    std::string device_id; // the id this run speaks as
    std::string token;     // empty: no Authorization header (enrollment)
    std::string epoch;     // the server epoch this device's state belongs to (stored at enroll)

    [[nodiscard]] TimePoint now() const { return env.now(); }
    [[nodiscard]] std::int64_t now_ms() const;
    void progress(std::string_view phase, std::int64_t done, std::int64_t total) const;

    // device_id from the engine, token from the stored enrollment; not_initialized (with
    // msg::not_enrolled) before `caravan enroll`.
    [[nodiscard]] Result<void> load_identity();
};

} // namespace caravan::sync::agent
