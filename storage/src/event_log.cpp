#include "caravan/storage/event_log.hpp"

#include "caravan/storage/messages.hpp"
#include "caravan/storage/migrations.hpp"

namespace caravan::storage {

namespace {

const Migration k_event_log_migrations[] = {
    {1, R"sql(
CREATE TABLE events(
    log_position   INTEGER PRIMARY KEY,
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL CHECK (seq > 0),
    hlc            INTEGER NOT NULL,
    entity_type    TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    op             TEXT NOT NULL,
    payload        TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    server_seq     INTEGER,
    UNIQUE (device_id, seq)
) STRICT;
CREATE INDEX events_by_entity ON events(entity_id);
)sql"},
    // A device's clock never issues one value twice; two events of one device with equal
    // clocks would make last-writer-wins depend on arrival order.
    {2, "CREATE UNIQUE INDEX events_by_device_clock ON events(device_id, hlc);"},
    // The index above is replaced by a check on append: a device's clock rises with its
    // sequence numbers, which implies the uniqueness the index kept, and costs two lookups in
    // the (device_id, seq) index per remote event instead of a third index updated by every
    // event (9 % of recording a consultation).
    {3, "DROP INDEX events_by_device_clock;"},
};

const Migration k_settings_migrations[] = {
    {1, "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;"},
};

constexpr std::string_view k_columns =
    "device_id, seq, hlc, entity_type, entity_id, op, payload, schema_version, server_seq, "
    "log_position";

Event read_event(const Statement& stmt) {
    Event e;
    e.device_id = stmt.column_text(0);
    e.seq = stmt.column_int(1);
    e.hlc = stmt.column_int(2);
    e.entity_type = stmt.column_text(3);
    e.entity_id = stmt.column_text(4);
    e.op = stmt.column_text(5);
    e.payload = stmt.column_text(6);
    e.schema_version = static_cast<int>(stmt.column_int(7));
    e.server_seq = stmt.column_opt_int(8);
    e.log_position = stmt.column_int(9);
    return e;
}

std::string select_events(std::string_view tail) {
    return "SELECT " + std::string(k_columns) + " FROM events " + std::string(tail);
}

} // namespace

Result<void> EventLog::install(Database& db) {
    return migrate(db, "event_log", k_event_log_migrations);
}

Result<bool> EventLog::append(Event& event, ClockCheck check) {
    if (check == ClockCheck::neighbours) {
        // The device's events on either side in sequence order must have a lower and a higher
        // clock: a device's clock rises with its sequence numbers.
        auto neighbours = m_db->cached(
            "SELECT (SELECT hlc FROM events WHERE device_id = ?1 AND seq < ?2"
            " ORDER BY seq DESC LIMIT 1),"
            " (SELECT hlc FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT 1)");
        if (!neighbours) {
            return tl::unexpected(neighbours.error());
        }
        (*neighbours)->bind_all(event.device_id, event.seq);
        auto row = (*neighbours)->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        const bool below_previous =
            !(*neighbours)->is_null(0) && (*neighbours)->column_int(0) >= event.hlc;
        const bool above_next =
            !(*neighbours)->is_null(1) && (*neighbours)->column_int(1) <= event.hlc;
        (*neighbours)->reset();
        if (below_previous || above_next) {
            return fail(ErrorCode::conflict, msg::event_clock_order, event.seq, event.device_id);
        }
    }
    auto insert =
        m_db->cached("INSERT INTO events(device_id, seq, hlc, entity_type, entity_id, op, payload,"
                     " schema_version, server_seq) VALUES(?,?,?,?,?,?,?,?,?)"
                     " ON CONFLICT(device_id, seq) DO NOTHING");
    if (!insert) {
        return tl::unexpected(insert.error());
    }
    (*insert)->bind_all_views(event.device_id, event.seq, event.hlc, event.entity_type,
                              event.entity_id, event.op, event.payload, event.schema_version,
                              event.server_seq);
    if (auto ok = (*insert)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    if (m_db->changes() == 1) {
        event.log_position = m_db->last_insert_rowid();
        return true;
    }
    auto existing = find(event.device_id, event.seq);
    if (!existing) {
        return tl::unexpected(existing.error());
    }
    if (!*existing || !(**existing == event)) {
        return fail(ErrorCode::conflict, msg::event_differs, event.seq, event.device_id);
    }
    if (event.server_seq && !(*existing)->server_seq) {
        if (auto ok = set_server_seq(event.device_id, event.seq, *event.server_seq); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    event.log_position = (*existing)->log_position;
    return false;
}

Result<std::int64_t> EventLog::last_seq(std::string_view device_id) {
    auto stmt = m_db->cached("SELECT max(seq) FROM events WHERE device_id = ?");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, device_id);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::int64_t seq = (*stmt)->is_null(0) ? 0 : (*stmt)->column_int(0);
    (*stmt)->reset();
    return seq;
}

Result<std::int64_t> EventLog::server_seq_known_upto(std::string_view device_id) {
    auto stmt =
        m_db->cached("SELECT min(seq) FROM events WHERE device_id = ? AND server_seq IS NULL");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, device_id);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<std::int64_t> first_unknown;
    if (!(*stmt)->is_null(0)) {
        first_unknown = (*stmt)->column_int(0);
    }
    (*stmt)->reset();
    if (first_unknown) {
        return *first_unknown - 1;
    }
    return last_seq(device_id);
}

Result<std::optional<Event>> EventLog::find(std::string_view device_id, std::int64_t seq) {
    static const std::string sql = select_events("WHERE device_id = ? AND seq = ?");
    auto stmt = m_db->cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(device_id, seq);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<Event> found;
    if (*row) {
        found = read_event(**stmt);
    }
    (*stmt)->reset();
    return found;
}

Result<std::vector<Event>> EventLog::for_entity(std::string_view entity_id) {
    static const std::string sql = select_events("WHERE entity_id = ? ORDER BY log_position");
    auto stmt = m_db->cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, entity_id);
    std::vector<Event> events;
    for (;;) {
        auto row = (*stmt)->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        events.push_back(read_event(**stmt));
    }
    return events;
}

Result<std::int64_t> EventLog::scan(std::int64_t after, std::int64_t limit,
                                    const std::function<bool(const Event&)>& visitor) {
    // A private statement: the visitor may itself use the cached ones.
    auto stmt =
        m_db->prepare(select_events("WHERE log_position > ? ORDER BY log_position LIMIT ?"));
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    stmt->bind_all(after, limit);
    std::int64_t visited = 0;
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        ++visited;
        if (!visitor(read_event(*stmt))) {
            break;
        }
    }
    return visited;
}

Result<std::vector<Event>> EventLog::device_events(std::string_view device_id,
                                                   std::int64_t after_seq, std::int64_t limit) {
    static const std::string sql =
        select_events("WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    auto stmt = m_db->cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(device_id, after_seq, limit);
    std::vector<Event> events;
    for (;;) {
        auto row = (*stmt)->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        events.push_back(read_event(**stmt));
    }
    return events;
}

Result<std::int64_t> EventLog::count() {
    auto stmt = m_db->cached("SELECT count(*) FROM events");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::int64_t n = (*stmt)->column_int(0);
    (*stmt)->reset();
    return n;
}

Result<void> EventLog::set_server_seq(std::string_view device_id, std::int64_t seq,
                                      std::int64_t server_seq) {
    auto stmt = m_db->cached(
        "UPDATE events SET server_seq = ? WHERE device_id = ? AND seq = ? AND server_seq IS NULL");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(server_seq, device_id, seq);
    return (*stmt)->run();
}

Result<void> EventLog::clear_server_seqs() {
    auto stmt = m_db->cached("UPDATE events SET server_seq = NULL WHERE server_seq IS NOT NULL");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    return (*stmt)->run();
}

Result<std::int64_t> EventLog::remove_from(std::string_view device_id, std::int64_t from_seq) {
    auto stmt = m_db->cached("DELETE FROM events WHERE device_id = ? AND seq >= ?");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(device_id, from_seq);
    if (auto ok = (*stmt)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return m_db->changes();
}

// ---- Settings -----------------------------------------------------------------------------

Result<void> Settings::install(Database& db) {
    return migrate(db, "settings", k_settings_migrations);
}

Result<std::optional<std::string>> Settings::get(std::string_view key) {
    auto stmt = m_db->cached("SELECT value FROM settings WHERE key = ?");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, key);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<std::string> value;
    if (*row) {
        value = (*stmt)->column_text(0);
    }
    (*stmt)->reset();
    return value;
}

Result<void> Settings::set(std::string_view key, std::string_view value) {
    auto stmt = m_db->cached("INSERT INTO settings(key, value) VALUES(?, ?)"
                             " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(key, value);
    return (*stmt)->run();
}

Result<void> Settings::erase(std::string_view key) {
    auto stmt = m_db->cached("DELETE FROM settings WHERE key = ?");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, key);
    return (*stmt)->run();
}

} // namespace caravan::storage
