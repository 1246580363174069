#pragma once
// The sync agent's state inside the device database: what it must remember between syncs.
//
// Settings (table `settings`, local and never synced; written in the same transaction as the
// data they describe):
//   sync.server_url    base URL given to `caravan enroll`
//   sync.token         the device's bearer token (the database file is 0600; the token is never
//                      printed, logged or put in an error)
//   sync.role          "lawyer" | "coordinator"; sync.regions: JSON array of region names
//   sync.ca_file       optional CA bundle for https
//   sync.epoch         the server epoch the pull cursor belongs to
//   sync.pull_cursor   server_seq after which the next pull starts
//   sync.rotation.new_id, sync.rotation.from_seq
//                      a rotation under way (docs/sync-algorithm.md 9): the new device id
//                      chosen before asking the server, and the first own seq to re-issue;
//                      erased in the transaction that completes the rotation
//   sync.rotated_from  the device id this database used before its last rotation
// Tables (component "sync_agent"): `sync_log`, one row per sync run (the last 1000 are kept),
// and `quarantine`, events refused by the server (direction "push") or that this device could
// not apply (direction "pull"), with the reason.
// What the server acknowledged of this device's log (push_acked_seq, each event's server_seq) is
// the engine's (Engine::push_acked_seq, acknowledge_push); AgentState works on the engine's
// component_storage(), inside Engine::batch() when it must commit with the engine's rows.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"

namespace caravan::sync::agent {

namespace keys {
inline constexpr std::string_view server_url = "sync.server_url";
inline constexpr std::string_view token = "sync.token";
inline constexpr std::string_view role = "sync.role";
inline constexpr std::string_view regions = "sync.regions";
inline constexpr std::string_view ca_file = "sync.ca_file";
inline constexpr std::string_view epoch = "sync.epoch";
inline constexpr std::string_view pull_cursor = "sync.pull_cursor";
inline constexpr std::string_view rotation_new_id = "sync.rotation.new_id";
inline constexpr std::string_view rotation_from_seq = "sync.rotation.from_seq";
inline constexpr std::string_view rotated_from = "sync.rotated_from";
} // namespace keys

struct PendingRotation {
    std::string new_id;
    std::int64_t from_seq = 1;
};

struct Enrollment {
    std::string server_url;
    std::string token;
    std::string role;
    std::vector<std::string> regions;
    std::optional<std::string> ca_file;
};

struct SyncLogEntry {
    std::int64_t id = 0;
    std::string started_at; // ISO 8601 UTC
    std::int64_t duration_ms = 0;
    std::string result;  // "ok" or an error code ("offline", "auth", ...)
    std::string message; // the error's message; empty when ok
    std::int64_t pushed = 0, pulled = 0, rejected = 0;
    std::int64_t bytes_up = 0, bytes_down = 0, requests = 0, attempts = 0;
};

struct QuarantineEntry {
    std::string direction; // "push": the server refused this device's event;
                           // "pull": this device could not apply a received event
    std::string device_id;
    std::int64_t seq = 0;
    std::string entity_type;
    std::string entity_id;
    std::string code;
    std::string message;
    std::string at; // ISO 8601 UTC
};

[[nodiscard]] nlohmann::json to_json(const SyncLogEntry& e);
[[nodiscard]] nlohmann::json to_json(const QuarantineEntry& e);

class AgentState {
  public:
    explicit AgentState(storage::Database& db) : m_db(&db), m_settings(db) {}

    // Creates or upgrades the agent's tables (component "sync_agent").
    [[nodiscard]] static Result<void> install(storage::Database& db);

    // nullopt until `caravan enroll` succeeded.
    [[nodiscard]] Result<std::optional<Enrollment>> enrollment();
    [[nodiscard]] Result<void> save_enrollment(const Enrollment& e);

    [[nodiscard]] Result<std::int64_t> pull_cursor();
    [[nodiscard]] Result<std::string> epoch();
    // Cursor and epoch move together.
    [[nodiscard]] Result<void> set_pull_position(std::int64_t cursor, std::string_view epoch);

    [[nodiscard]] Result<std::optional<PendingRotation>> pending_rotation();
    [[nodiscard]] Result<void> set_pending_rotation(const PendingRotation& p);
    // Ends the rotation: forgets the pending one, remembers the id it replaced.
    [[nodiscard]] Result<void> finish_rotation(std::string_view old_id);
    [[nodiscard]] Result<std::optional<std::string>> rotated_from();

    // Insert or replace by (device_id, seq).
    [[nodiscard]] Result<void> quarantine(const QuarantineEntry& e);
    // Forgets a quarantined event (the server accepted it after all).
    [[nodiscard]] Result<void> release(std::string_view device_id, std::int64_t seq);
    // Forgets the quarantined events of `device_id` from `from_seq` on (a rotation re-issued
    // them under a new id).
    [[nodiscard]] Result<void> release_from(std::string_view device_id, std::int64_t from_seq);
    [[nodiscard]] Result<std::vector<QuarantineEntry>> quarantined(std::int64_t limit = 1000);
    [[nodiscard]] Result<std::int64_t> quarantined_count();

    [[nodiscard]] Result<void> record(const SyncLogEntry& e);
    // Newest first.
    [[nodiscard]] Result<std::vector<SyncLogEntry>> log(std::int64_t limit);

  private:
    [[nodiscard]] Result<std::int64_t> get_int(std::string_view key);
    // Runs a DELETE on quarantine bound to (device_id, seq).
    [[nodiscard]] Result<void> release_where(std::string_view sql, std::string_view device_id,
                                             std::int64_t seq);
    storage::Database* m_db;
    storage::Settings m_settings;
};

} // namespace caravan::sync::agent
