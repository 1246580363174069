#pragma once
// The device side of sync: enrolment, the push/pull loop, verification.
// docs/sync-algorithm.md explains the algorithm; docs/protocol.md is the wire contract, and
// sync/protocol (caravan/sync/protocol.hpp, caravan/sync/protocol/*.hpp) its routes, codes and
// body codecs. The parts of a run are private to sync/agent/src: exchanger (one request with
// retries), pusher, rotation (its protocol side; the local rewrite is
// Engine::reissue_under_new_id), puller, epoch_resync, verifier, enroller.
//
// Contract:
// - Nothing unsynced is ever discarded, and nothing is applied twice: push progress is stored
//   (push_acked_seq, server_seq of each event, quarantine) in ONE local transaction per
//   acknowledged batch; each pulled page is applied together with the new cursor in ONE local
//   transaction. An interruption anywhere costs at most the batch or page in flight.
// - Requests that fail on the way (offline, timeout, 5xx, 429, truncated body) are retried with
//   exponential backoff and full jitter; the batch or page size halves after each failure and
//   doubles after each success. With SyncOptions::until the whole sync is retried until it
//   succeeds or the deadline passes, resuming from the last acknowledged batch each time.
// - A sync with nothing to push costs one request (the pull).
// - The caller holds the SyncLock; a SyncAgent is used from one thread.
// - Errors are values; the codes a scheduler can act on: offline/timeout, auth/forbidden,
//   server/protocol, upgrade_required (cli maps them to exit codes 4, 5, 6, 7).

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/sync/agent/transport.hpp"

namespace caravan::sync::agent {

using Millis = std::chrono::milliseconds;
using TimePoint = std::chrono::system_clock::time_point;

// Knobs with production defaults; tests shrink them.
struct SyncTuning {
    std::size_t initial_batch_bytes = 64 << 10; // push body, uncompressed JSON
    std::size_t min_batch_bytes = 2 << 10;      // a batch always holds at least one event
    std::size_t max_batch_bytes = 1 << 20;
    std::int64_t initial_page = 500; // events per pull page
    std::int64_t min_page = 25;
    std::int64_t max_page = 2000;
    int max_attempts = 4;    // tries per request
    Millis retry_base{1000}; // backoff between tries of one request
    Millis retry_cap{60000};
    Millis round_base{15000}; // backoff between whole-sync rounds (until)
    Millis round_cap{600000};
};

struct SyncOptions {
    std::optional<TimePoint> until; // keep retrying the whole sync until then
    bool verify = false;            // after a successful sync, compare digests with the server
    SyncTuning tuning;
};

struct Progress {
    std::string_view phase; // "push" or "pull"
    std::int64_t done = 0;
    std::int64_t total = 0; // 0 when unknown
};

// Where the agent gets time, sleep and randomness: tests make them deterministic.
struct AgentEnvironment {
    std::function<void(Millis)> sleep;     // default: std::this_thread::sleep_for
    std::function<TimePoint()> now;        // default: system_clock::now
    std::uint64_t seed = 0;                // 0: from std::random_device
    std::string app_version = "caravan/0"; // X-Caravan-App-Version
    std::function<void(const Progress&)> progress;
};

struct VerifyReport {
    bool agree = false;
    std::int64_t upto = 0;
    std::int64_t local_count = 0, server_count = 0;
    std::string local_digest, server_digest;
};

struct SyncReport {
    std::string started_at; // ISO 8601 UTC
    std::int64_t duration_ms = 0;
    std::int64_t pushed = 0;   // own events the server now holds (accepted or duplicate)
    std::int64_t pulled = 0;   // events from elsewhere applied here for the first time
    std::int64_t rejected = 0; // own events the server refused (quarantined)
    std::int64_t bytes_up = 0, bytes_down = 0;
    std::int64_t requests = 0;
    std::int64_t attempts = 0;  // whole-sync rounds
    std::optional<Error> error; // nullopt: the sync completed
    std::optional<VerifyReport> verify;
    // Set when this run re-registered the device under a new id (docs/sync-algorithm.md 9):
    // the id it had before, and how many of its events were re-issued under the new one.
    std::optional<std::string> rotated_from;
    std::string device_id_after; // the id the device syncs under at the end of the run
    std::int64_t reissued = 0;
    [[nodiscard]] bool ok() const { return !error.has_value(); }
};

[[nodiscard]] nlohmann::json to_json(const SyncReport& r);
[[nodiscard]] nlohmann::json to_json(const VerifyReport& r);

struct EnrollRequest {
    std::string server_url; // normalized base URL the transport talks to
    std::string code;       // as typed; normalized to XXX-XXX-XXX
    std::optional<std::string> ca_file;
    SyncTuning tuning{}; // retries: max_attempts, retry_base, retry_cap
};

// How long `enroll` keeps retrying at most (a wait that would end later is not started).
inline constexpr Millis k_enroll_deadline{120000};

struct EnrollResult {
    std::string device_id;
    std::string role;
    std::vector<std::string> regions;
    std::string epoch;
    std::string server_time;
};

// "k7q 94x2mc" → "K7Q-94X-2MC"; invalid_input unless 9 letters/digits.
[[nodiscard]] Result<std::string> normalize_enroll_code(std::string_view code);

class SyncAgent {
  public:
    SyncAgent(client::Engine& engine, Transport& transport, AgentEnvironment env = {});
    ~SyncAgent();
    SyncAgent(const SyncAgent&) = delete;
    SyncAgent& operator=(const SyncAgent&) = delete;

    // Registers this device (it must be initialised) with the server behind the transport and
    // stores the credentials. Retried like every request (offline, timeout, 5xx, 429, a
    // garbled answer; at most tuning.max_attempts tries within k_enroll_deadline): the server
    // answers a repeat of the same code for the same device id as it answered the first, until
    // the device has used its token. forbidden with msg::code_refused for a code the server
    // refuses, with msg::enroll_device_known for a device id it knows already (the code stays
    // unused).
    [[nodiscard]] Result<EnrollResult> enroll(const EnrollRequest& request);

    // Pushes the outbox, pulls everything new, optionally verifies; records the run in
    // sync_log whatever the outcome.
    [[nodiscard]] SyncReport sync(const SyncOptions& options);

    // Compares count and digest of the events up to the pull cursor with the server's.
    [[nodiscard]] Result<VerifyReport> verify();

  private:
    client::Engine* m_engine;
    Transport* m_transport;
    AgentEnvironment m_env;
};

} // namespace caravan::sync::agent
