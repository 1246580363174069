#pragma once
// The append-only event log. Knows events as opaque records: who wrote them (device id and a
// per-device sequence number), when (a 64-bit hybrid logical clock value), what they touch
// (an entity type and id, both strings), the operation name and a payload that the layer above
// interprets. Nothing here knows what a village or a consultation is.
//
// Invariants:
// - (device_id, seq) is unique. Appending an event already present with identical content is a
//   no-op (returns false); the same key with different content is refused (`conflict`), since a
//   queued event is immutable.
// - A device's clock rises with its sequence numbers: of two events of one device, the one
//   with the higher seq has the higher hlc. So one device never stamps two events with one
//   clock value, which last-writer-wins relies on. Checked on append (ClockCheck).
// - Events are never updated or deleted, except `server_seq`, set once when the server's feed
//   position becomes known, and a device's own events from some seq on, removed when they are
//   re-issued under a new device id (remove_from, used by device rotation only).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "caravan/storage/database.hpp"

namespace caravan::storage {

struct Event {
    std::string device_id;
    std::int64_t seq = 0;
    std::int64_t hlc = 0;
    std::string entity_type;
    std::string entity_id;
    std::string op;
    std::string payload;        // JSON text
    int schema_version = 1;
    std::optional<std::int64_t> server_seq; // position in the server's change feed, if known
    std::int64_t log_position = 0;          // local rowid, assigned on append

    friend bool operator==(const Event& a, const Event& b) {
        return a.device_id == b.device_id && a.seq == b.seq && a.hlc == b.hlc &&
               a.entity_type == b.entity_type && a.entity_id == b.entity_id && a.op == b.op &&
               a.payload == b.payload && a.schema_version == b.schema_version;
    }
};

class EventLog {
  public:
    explicit EventLog(Database& db) : m_db(&db) {}

    // Creates or upgrades the log's tables (component "event_log").
    [[nodiscard]] static Result<void> install(Database& db);

    // true when inserted, false when an identical event was already present.
    //
    // `neighbours` checks the clock order against the device's events on either side (two index
    // lookups). `device_clock` skips it: for the device's own new events only, whose clock is
    // ticked past every clock value this log holds and whose seq is the next one.
    enum class ClockCheck { neighbours, device_clock };
    [[nodiscard]] Result<bool> append(Event& event, ClockCheck check = ClockCheck::neighbours);
    // Highest sequence stored for `device_id`, 0 when none.
    [[nodiscard]] Result<std::int64_t> last_seq(std::string_view device_id);
    // Device side: the highest s such that every event of `device_id` with seq <= s knows its
    // server_seq (0 when the first does not).
    [[nodiscard]] Result<std::int64_t> server_seq_known_upto(std::string_view device_id);
    [[nodiscard]] Result<std::optional<Event>> find(std::string_view device_id, std::int64_t seq);
    // All events of one entity, in log order.
    [[nodiscard]] Result<std::vector<Event>> for_entity(std::string_view entity_id);
    // Visits events with log_position > after, in log order, at most `limit` of them; the visitor
    // returns false to stop early. Returns the number visited.
    [[nodiscard]] Result<std::int64_t> scan(std::int64_t after, std::int64_t limit,
                                            const std::function<bool(const Event&)>& visitor);
    // Events of `device_id` with seq > after_seq, in seq order, at most `limit`.
    [[nodiscard]] Result<std::vector<Event>> device_events(std::string_view device_id,
                                                           std::int64_t after_seq,
                                                           std::int64_t limit);
    [[nodiscard]] Result<std::int64_t> count();
    [[nodiscard]] Result<void> set_server_seq(std::string_view device_id, std::int64_t seq,
                                              std::int64_t server_seq);
    // Device side only. Forgets every known server_seq: the server's feed was replaced (a new
    // epoch), so its old positions mean nothing; they are learned again from push results and
    // pulls.
    [[nodiscard]] Result<void> clear_server_seqs();

    // Removes the events of `device_id` with seq >= from_seq; returns how many. Only for device
    // rotation, which re-issues them under a new id in the same transaction.
    [[nodiscard]] Result<std::int64_t> remove_from(std::string_view device_id,
                                                   std::int64_t from_seq);

  private:
    Database* m_db;
};

// A tiny string key/value table for local, never-synced state (device identity, cursors,
// the current visit). Writes join the caller's transaction, if any.
class Settings {
  public:
    explicit Settings(Database& db) : m_db(&db) {}
    [[nodiscard]] static Result<void> install(Database& db);
    [[nodiscard]] Result<std::optional<std::string>> get(std::string_view key);
    // A stored count: 0 when absent or empty; `corrupt` when the value is not a decimal
    // number from 0 up (a position must never be guessed).
    [[nodiscard]] Result<std::int64_t> get_count(std::string_view key);
    [[nodiscard]] Result<void> set(std::string_view key, std::string_view value);
    [[nodiscard]] Result<void> erase(std::string_view key);

  private:
    Database* m_db;
};

} // namespace caravan::storage
