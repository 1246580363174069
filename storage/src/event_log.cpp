#include "caravan/storage/event_log.hpp"

#include <charconv>

#include "caravan/storage/event_row.hpp"
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
    Event e = event_from_row(stmt);
    e.server_seq = stmt.column_opt_int(8);
    e.log_position = stmt.column_int(9);
    return e;
}

std::string select_events(std::string_view tail) {
    return "SELECT " + std::string(k_columns) + " FROM events " + std::string(tail);
}

} // namespace

Event event_from_row(const Statement& row) {
    Event e;
    e.device_id = row.column_text(0);
    e.seq = row.column_int(1);
    e.hlc = row.column_int(2);
    e.entity_type = row.column_text(3);
    e.entity_id = row.column_text(4);
    e.op = row.column_text(5);
    e.payload = row.column_text(6);
    e.schema_version = static_cast<int>(row.column_int(7));
    return e;
}

Result<void> EventLog::install(Database& db) {
    return migrate(db, "event_log", k_event_log_migrations);
}

Result<bool> EventLog::append(Event& event, ClockCheck check) {
    if (check == ClockCheck::neighbours) {
        // The device's events on either side in sequence order must have a lower and a higher
        // clock: a device's clock rises with its sequence numbers.
        bool out_of_order = false;
        auto read =
            m_db->query("SELECT (SELECT hlc FROM events WHERE device_id = ?1 AND seq < ?2"
                        " ORDER BY seq DESC LIMIT 1),"
                        " (SELECT hlc FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY"
                        " seq LIMIT 1)",
                        event.device_id, event.seq)
                .first([&](const Statement& row) {
                    const auto previous = row.get<std::optional<std::int64_t>>(0);
                    const auto next = row.get<std::optional<std::int64_t>>(1);
                    out_of_order =
                        (previous && *previous >= event.hlc) || (next && *next <= event.hlc);
                });
        if (!read) {
            return tl::unexpected(read.error());
        }
        if (out_of_order) {
            return fail(ErrorCode::conflict, msg::event_clock_order, event.seq, event.device_id);
        }
    }
    // The hot insert binds its text without copying it (bind_all_views).
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
    CARAVAN_TRY_VOID((*insert)->run());
    if (m_db->changes() == 1) {
        event.log_position = m_db->last_insert_rowid();
        return true;
    }
    CARAVAN_TRY(existing, find(event.device_id, event.seq));
    if (!existing || !(*existing == event)) {
        return fail(ErrorCode::conflict, msg::event_differs, event.seq, event.device_id);
    }
    if (event.server_seq && !existing->server_seq) {
        CARAVAN_TRY_VOID(set_server_seq(event.device_id, event.seq, *event.server_seq));
    }
    event.log_position = existing->log_position;
    return false;
}

Result<std::int64_t> EventLog::last_seq(std::string_view device_id) {
    CARAVAN_TRY(seq, m_db->query("SELECT max(seq) FROM events WHERE device_id = ?", device_id)
                         .one<std::int64_t>());
    return seq.value_or(0);
}

Result<std::int64_t> EventLog::server_seq_known_upto(std::string_view device_id) {
    CARAVAN_TRY(
        first_unknown,
        m_db->query("SELECT min(seq) FROM events WHERE device_id = ? AND server_seq IS NULL",
                    device_id)
            .one<std::int64_t>());
    if (first_unknown) {
        return *first_unknown - 1;
    }
    return last_seq(device_id);
}

Result<std::optional<Event>> EventLog::find(std::string_view device_id, std::int64_t seq) {
    static const std::string sql = select_events("WHERE device_id = ? AND seq = ?");
    std::optional<Event> found;
    CARAVAN_TRY_VOID(m_db->query(sql, device_id, seq).first([&](const Statement& row) {
        found = read_event(row);
    }));
    return found;
}

Result<std::vector<Event>> EventLog::for_entity(std::string_view entity_id) {
    static const std::string sql = select_events("WHERE entity_id = ? ORDER BY log_position");
    std::vector<Event> events;
    CARAVAN_TRY_VOID(m_db->query(sql, entity_id).each([&](const Statement& row) {
        events.push_back(read_event(row));
    }));
    return events;
}

Result<std::int64_t> EventLog::scan(std::int64_t after, std::int64_t limit,
                                    const std::function<bool(const Event&)>& visitor) {
    // A private statement: the visitor may itself use the cached ones.
    CARAVAN_TRY(
        stmt, m_db->prepare(select_events("WHERE log_position > ? ORDER BY log_position LIMIT ?")));
    stmt.bind_all(after, limit);
    std::int64_t visited = 0;
    CARAVAN_TRY_VOID(stmt.each([&](const Statement& row) {
        ++visited;
        return visitor(read_event(row));
    }));
    return visited;
}

Result<std::vector<Event>> EventLog::device_events(std::string_view device_id,
                                                   std::int64_t after_seq, std::int64_t limit) {
    static const std::string sql =
        select_events("WHERE device_id = ? AND seq > ? ORDER BY seq LIMIT ?");
    std::vector<Event> events;
    CARAVAN_TRY_VOID(m_db->query(sql, device_id, after_seq, limit).each([&](const Statement& row) {
        events.push_back(read_event(row));
    }));
    return events;
}

Result<std::int64_t> EventLog::count() {
    CARAVAN_TRY(n, m_db->query("SELECT count(*) FROM events").one<std::int64_t>());
    return n.value_or(0);
}

Result<void> EventLog::set_server_seq(std::string_view device_id, std::int64_t seq,
                                      std::int64_t server_seq) {
    return m_db
        ->query("UPDATE events SET server_seq = ? WHERE device_id = ? AND seq = ? AND server_seq"
                " IS NULL",
                server_seq, device_id, seq)
        .run();
}

Result<void> EventLog::clear_server_seqs() {
    return m_db->query("UPDATE events SET server_seq = NULL WHERE server_seq IS NOT NULL").run();
}

Result<std::int64_t> EventLog::remove_from(std::string_view device_id, std::int64_t from_seq) {
    CARAVAN_TRY_VOID(
        m_db->query("DELETE FROM events WHERE device_id = ? AND seq >= ?", device_id, from_seq)
            .run());
    return m_db->changes();
}

// ---- Settings -----------------------------------------------------------------------------

Result<void> Settings::install(Database& db) {
    return migrate(db, "settings", k_settings_migrations);
}

Result<std::optional<std::string>> Settings::get(std::string_view key) {
    return m_db->query("SELECT value FROM settings WHERE key = ?", key).one<std::string>();
}

Result<std::int64_t> Settings::get_count(std::string_view key) {
    CARAVAN_TRY(text, get(key));
    if (!text || text->empty()) {
        return 0;
    }
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || value < 0) {
        return fail(ErrorCode::corrupt, msg::setting_not_count, key);
    }
    return value;
}

Result<void> Settings::set(std::string_view key, std::string_view value) {
    return m_db
        ->query("INSERT INTO settings(key, value) VALUES(?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                key, value)
        .run();
}

Result<void> Settings::erase(std::string_view key) {
    return m_db->query("DELETE FROM settings WHERE key = ?", key).run();
}

} // namespace caravan::storage
