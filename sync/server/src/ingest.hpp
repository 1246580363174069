#pragma once
// A push, as a pipeline of named steps (EventFeed::push runs them):
//
//   validate_push   the request as a whole, before any lock: whose events, in what order, which
//                   schema versions. A refusal changes nothing.
//   Ingest::take    each event, in order, inside the push's write transaction:
//     classify        against what the server acknowledged to this device: a duplicate (answered
//                     again), new (the next seq), or a request-level refusal: conflicting
//                     (sequence_conflict) or out of order (sequence_gap)
//     judge           a new event on its own merits: its clock, its validity, the records it
//                     depends on, the device's scope; admissible or refused with a code
//     accept          into the log, the projections and the feed's scope
//     reject          into rejected_events: acknowledged, never in the feed
//
// Every step either answers or fails with an Error (our own failure: the caller turns it into
// `internal`/`unavailable` and rolls the push back).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/api_error.hpp"
#include "caravan/sync/server/device_registry.hpp"

namespace caravan::sync::server {

// The event read from a row of (device_id, seq, hlc, entity_type, entity_id, op, payload,
// schema_version, log_position): server_seq is the log position.
[[nodiscard]] storage::Event read_event(const storage::Statement& row);

// Request-level checks of a push by `device`: the request's and every event's device id is the
// token's (forbidden), seqs ascend strictly (malformed), every schema version is one this
// server reads (upgrade_required). Reads nothing.
[[nodiscard]] ApiResult<void> validate_push(const DeviceRecord& device, const PushRequest& request);

class Ingest {
  public:
    // Prepares the statements of one push by `me` (as read under the write lock). `db`, `log`
    // and `projector` must outlive the Ingest; `now_ms` is the server's clock for the push.
    [[nodiscard]] static Result<Ingest> prepare(storage::Database& db, storage::EventLog& log,
                                                client::Projector& projector,
                                                const DeviceRecord& me, std::int64_t now_ms);

    // Classifies, judges, accepts or rejects `event` (the next of the push, in order) and
    // returns its result; a request-level refusal (sequence_conflict, sequence_gap) ends the
    // push. Errors come back as `internal`/`unavailable`.
    [[nodiscard]] ApiResult<EventResult> take(const storage::Event& event);

    // take() of each event in order, appending to `results`; stops at the first refusal.
    [[nodiscard]] ApiResult<void> take_all(const std::vector<storage::Event>& events,
                                           std::vector<EventResult>& results);

    // The highest seq acknowledged so far: the device's before the push, then each event taken.
    [[nodiscard]] std::int64_t acked() const { return m_acked; }

  private:
    // Why an event is refused: a per-event code (codes::invalid_event, ...) and its message.
    struct Refusal {
        std::string code;
        std::string message;
    };
    // Where a record sits: whether everyone pulls it, and its region before and after the event.
    struct Placement {
        bool reference = false;            // villages and devices: everyone pulls them
        std::optional<std::string> before; // the record's region before this event, when known
        std::optional<std::string> after;  // and after it
    };
    // The judgement of a new event: refused, or admissible with its parsed payload and place.
    struct Verdict {
        std::optional<Refusal> refusal;
        nlohmann::json payload;
        Placement placement;
    };

    Ingest(storage::Database& db, storage::EventLog& log, client::Projector& projector,
           DeviceRecord me, std::int64_t now_ms);

    // A result for an event at or below the acknowledged seq: a duplicate of the copy the
    // server holds (accepted: with its server_seq; rejected: without). nullopt for the next seq,
    // a new event. Refuses sequence_conflict when the content differs from the held copy, and
    // sequence_gap when the seq skips ahead.
    [[nodiscard]] ApiResult<std::optional<EventResult>> classify(const storage::Event& event);
    // A new event on its own merits, in this order: clock_ahead, invalid_event, the records it
    // depends on (parent_rejected, parent_unknown), the lawyer's scope (out_of_scope). Judged
    // from the projections, so an earlier event of the same push counts as held.
    [[nodiscard]] Result<Verdict> judge(const storage::Event& event);
    // Appends an admissible event to the log, applies it to the projections and records its
    // scope: accepted with its server_seq. The log may still refuse its clock order (one clock
    // value twice, or a clock that went back): then the refusal is returned, nothing written.
    [[nodiscard]] Result<std::optional<Refusal>>
    accept(const storage::Event& event, const Verdict& verdict, EventResult& result);
    // Stores a refused event in rejected_events: rejected with its code and message.
    [[nodiscard]] Result<void> reject(const storage::Event& event, const Refusal& refusal,
                                      EventResult& result);

    [[nodiscard]] Result<Placement> place(const storage::Event& event,
                                          const nlohmann::json& fields);
    // The refusal of an event that depends on a record the server did not accept: its parent is
    // not on the server (parent_rejected when this device's event creating it was refused,
    // parent_unknown otherwise), or it updates or deletes a record whose creation was refused
    // to this device. nullopt when it depends on nothing missing.
    [[nodiscard]] Result<std::optional<Refusal>> missing_dependency(const storage::Event& event,
                                                                    const nlohmann::json& fields);
    // out_of_scope when a lawyer's device writes outside its regions (or describes another
    // device); nullopt otherwise.
    [[nodiscard]] std::optional<Refusal> out_of_scope(const storage::Event& event,
                                                      const Placement& placement) const;
    [[nodiscard]] Result<bool> held(const client::EntityDef& def, const std::string& id);
    [[nodiscard]] Result<bool> refused_before(const std::string& entity_id);
    [[nodiscard]] Result<std::optional<std::string>> region_of_village(std::string_view id);
    [[nodiscard]] Result<std::optional<std::string>> region_of_visit(std::string_view id);
    [[nodiscard]] Result<std::optional<std::string>> text_column(std::string_view sql,
                                                                 std::string_view id);

    storage::Database* m_db;
    storage::EventLog* m_log;
    client::Projector* m_projector;
    DeviceRecord m_me;
    std::int64_t m_now_ms;
    std::int64_t m_committed_acked; // the device's acked seq before this push
    std::int64_t m_acked;
    storage::Statement* m_find_rejected = nullptr;
    storage::Statement* m_insert_rejected = nullptr;
    storage::Statement* m_insert_scope = nullptr;
};

} // namespace caravan::sync::server
