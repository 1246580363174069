#pragma once
// Reading an event back from a query's row, for every table that stores events column by column
// (the device's log, the server's events and rejected events).

#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"

namespace caravan::storage {

// The event in a row whose first eight columns are, in order, device_id, seq, hlc,
// entity_type, entity_id, op, payload, schema_version; server_seq and log_position stay unset
// (each reader knows where its row keeps them).
[[nodiscard]] Event event_from_row(const Statement& row);

} // namespace caravan::storage
