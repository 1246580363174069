#pragma once
// The synced record types and their fields. This table drives the projector (which columns an
// event may write, how values are typed) and event validation (what a remote event may carry).
// Adding a field: append it here, add a client migration adding the column, bump nothing else:
// older events simply lack the field.

#include <optional>
#include <span>
#include <string_view>

namespace caravan::client {

enum class FieldType { text, integer, real, boolean, text_list };

struct FieldDef {
    std::string_view name;
    FieldType type;
    const struct Enumeration* enumeration = nullptr; // value (or each list item) must be a code
    bool required = false;                           // must be non-null in a create event
};

struct EntityDef {
    std::string_view type;  // as in events: "consultation"
    std::string_view table; // projection table
    std::span<const FieldDef> fields;

    [[nodiscard]] const FieldDef* field(std::string_view name) const;
};

namespace entities {
extern const EntityDef device;
extern const EntityDef village;
extern const EntityDef visit;
extern const EntityDef consultation;
extern const EntityDef attendance;
extern const EntityDef survey;
extern const EntityDef photo;
} // namespace entities

[[nodiscard]] std::span<const EntityDef* const> all_entities();
[[nodiscard]] const EntityDef* find_entity(std::string_view type);

// Every entity carries this boolean field; a delete event sets it.
inline constexpr std::string_view k_deleted_field = "deleted";

// Current schema version of events written by this program, and the oldest it accepts.
inline constexpr int k_event_schema_version = 1;
inline constexpr int k_min_event_schema_version = 1;

} // namespace caravan::client
