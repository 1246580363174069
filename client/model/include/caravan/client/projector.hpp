#pragma once
// Turns events into the projection tables the CLI reads, with per-field last-writer-wins.
//
// Every field of every record remembers the version that wrote it, where a version is the
// string "<hlc as 16 hex digits>@<device id>"; string order is version order. An event's write
// to a field takes effect only if its version is greater than the field's. Hence applying a set
// of events gives the same rows whatever their order, and applying one twice changes nothing.
//
// Storage of versions per row: `_created` holds the version of the (greatest) create event, or
// NULL while no create has been seen (the row is then invisible to queries); `_v` is a JSON
// object holding the versions of the fields whose version differs from `_created`. A create
// event writes every field of its schema.
//
// Conflicts: two writes of one field conflict when neither writer had seen the other's value
// (each event's `base` names, per field, the version its author saw) and the values differ.
// A delete conflicts with an edit its author had not seen; an undelete (`deleted = false`) does
// not conflict with an edit (both leave the record live). Conflicts are recorded once per pair,
// whatever the arrival order, in table `conflicts`.

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "caravan/client/entities.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"

namespace caravan::client {

class NewRecord;

inline constexpr std::string_view k_op_create = "create";
inline constexpr std::string_view k_op_update = "update";
inline constexpr std::string_view k_op_delete = "delete";

// "<16 hex hlc>@<device id>"
[[nodiscard]] std::string version_of(std::int64_t hlc, std::string_view device_id);

// Validates an event's envelope and payload against the entity table: known entity type and
// operation, supported schema version, known fields of the right type, enumeration codes,
// required fields on create. The message names the field, never its value.
// `incoming` (an event arriving from a device, a server or an import) also refuses text that
// holds a control character or a text-direction override (is_safe_text, CR allowed); `stored`
// (an event already in a log, accepted under the rules of its time: a rebuild, a rotation)
// skips that rule, so that a rebuild reproduces what was applied.
enum class EventCheck { incoming, stored };
[[nodiscard]] Result<void> validate_event(const storage::Event& event,
                                          EventCheck check = EventCheck::incoming);

// The payload key of an update or delete that names the conflicts it settles:
// [[field, a_version, b_version], ...], each a conflict on a field the event writes that the
// writing device listed when it wrote (docs/sync-algorithm.md 2.3).
inline constexpr std::string_view k_settles_key = "settles";

class Projector {
  public:
    explicit Projector(storage::Database& db) : m_db(&db), m_log(db) {}

    // Creates or upgrades the projection tables (component "projections").
    [[nodiscard]] static Result<void> install(storage::Database& db);

    // Applies one event that is already in the event log. Validates it first (EventCheck::stored).
    [[nodiscard]] Result<void> apply(const storage::Event& event);
    // The same with the payload already parsed (the engine's write path).
    [[nodiscard]] Result<void> apply(const storage::Event& event, const nlohmann::json& payload);
    // The same for a create made here, bound from its typed values (the engine's hot path);
    // `event.payload` must be `record.payload()`.
    [[nodiscard]] Result<void> apply_new(const storage::Event& event, const NewRecord& record);

    // The current version of each field of a record (empty object when unknown).
    [[nodiscard]] Result<nlohmann::json> field_versions(const EntityDef& def,
                                                        std::string_view id);

    // The conflicts listed here on those of the record's fields that `fields` writes, as the
    // `settles` list of an event writing them (an empty array when there are none).
    [[nodiscard]] Result<nlohmann::json> settled_by(const EntityDef& def, std::string_view id,
                                                    const nlohmann::json& fields);

    // Empties every projection and re-applies the whole event log.
    [[nodiscard]] Result<void> rebuild();
    // SHA-256 over every projection row and conflict, in id order: equal fingerprints mean equal
    // projections.
    [[nodiscard]] Result<std::string> fingerprint();

  private:
    // Removes the conflicts a write in the log settles (migration 2 of "projections").
    [[nodiscard]] static Result<void> settle_recorded_conflicts(storage::Database& db);
    // Inserts the row of a created record unless it exists; `bind(statement, index, k)` binds
    // the schema's k-th field. True when inserted.
    template <class Bind>
    [[nodiscard]] Result<bool> insert_new(const EntityDef& def, const storage::Event& event,
                                          const std::string& version, Bind&& bind);
    [[nodiscard]] Result<void> detect_conflicts(const storage::Event& event,
                                                const nlohmann::json& payload,
                                                const EntityDef& def);
    storage::Database* m_db;
    storage::EventLog m_log;
};

} // namespace caravan::client
