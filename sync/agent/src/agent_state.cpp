#include "caravan/sync/agent/agent_state.hpp"

#include <algorithm>
#include <charconv>

#include <nlohmann/json.hpp>

#include "caravan/storage/migrations.hpp"
#include "caravan/sync/agent/messages.hpp"

namespace caravan::sync::agent {

using nlohmann::json;

namespace {

const storage::Migration k_migrations[] = {
    {1, R"sql(
CREATE TABLE sync_log(
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    result      TEXT NOT NULL,
    message     TEXT NOT NULL,
    pushed      INTEGER NOT NULL,
    pulled      INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    bytes_up    INTEGER NOT NULL,
    bytes_down  INTEGER NOT NULL,
    requests    INTEGER NOT NULL,
    attempts    INTEGER NOT NULL
) STRICT;
CREATE TABLE quarantine(
    device_id   TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    direction   TEXT NOT NULL CHECK (direction IN ('push', 'pull')),
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT;
)sql"},
};

constexpr std::int64_t k_log_rows_kept = 1000;

} // namespace

json to_json(const SyncLogEntry& e) {
    return {{"id", e.id},
            {"started_at", e.started_at},
            {"duration_ms", e.duration_ms},
            {"result", e.result},
            {"message", e.message},
            {"pushed", e.pushed},
            {"pulled", e.pulled},
            {"rejected", e.rejected},
            {"bytes_up", e.bytes_up},
            {"bytes_down", e.bytes_down},
            {"requests", e.requests},
            {"attempts", e.attempts}};
}

json to_json(const QuarantineEntry& e) {
    return {{"direction", e.direction},
            {"device_id", e.device_id},
            {"seq", e.seq},
            {"entity_type", e.entity_type},
            {"entity_id", e.entity_id},
            {"code", e.code},
            {"message", e.message},
            {"at", e.at}};
}

Result<void> AgentState::install(storage::Database& db) {
    return storage::migrate(db, "sync_agent", k_migrations);
}

Result<std::int64_t> AgentState::get_int(std::string_view key) {
    return m_settings.get_count(key);
}

Result<std::optional<Enrollment>> AgentState::enrollment() {
    auto url = m_settings.get(keys::server_url);
    auto token = m_settings.get(keys::token);
    auto role = m_settings.get(keys::role);
    auto regions = m_settings.get(keys::regions);
    auto ca = m_settings.get(keys::ca_file);
    for (auto* r : {&url, &token, &role, &regions, &ca}) {
        if (!*r) {
            return tl::unexpected(r->error());
        }
    }
    if (!*url || !*token) {
        return std::optional<Enrollment>();
    }
    Enrollment e;
    e.server_url = **url;
    e.token = **token;
    e.role = role->value_or("");
    json list = json::parse(regions->value_or("[]"), nullptr, false);
    if (list.is_array()) {
        for (const auto& r : list) {
            if (r.is_string()) {
                e.regions.push_back(r.get<std::string>());
            }
        }
    }
    if (*ca && !(*ca)->empty()) {
        e.ca_file = **ca;
    }
    return std::optional<Enrollment>(std::move(e));
}

Result<void> AgentState::save_enrollment(const Enrollment& e) {
    const std::pair<std::string_view, std::string> values[] = {
        {keys::server_url, e.server_url},
        {keys::token, e.token},
        {keys::role, e.role},
        {keys::regions, json(e.regions).dump()},
        {keys::ca_file, e.ca_file.value_or("")},
    };
    for (const auto& [k, v] : values) {
        if (auto ok = m_settings.set(k, v); !ok) {
            return ok;
        }
    }
    return {};
}

Result<std::optional<PendingRotation>> AgentState::pending_rotation() {
    auto id = m_settings.get(keys::rotation_new_id);
    if (!id) {
        return tl::unexpected(id.error());
    }
    if (!*id || (*id)->empty()) {
        return std::optional<PendingRotation>();
    }
    auto from = get_int(keys::rotation_from_seq);
    if (!from) {
        return tl::unexpected(from.error());
    }
    return std::optional<PendingRotation>(PendingRotation{**id, std::max<std::int64_t>(1, *from)});
}

Result<void> AgentState::set_pending_rotation(const PendingRotation& p) {
    if (auto ok = m_settings.set(keys::rotation_new_id, p.new_id); !ok) {
        return ok;
    }
    return m_settings.set(keys::rotation_from_seq, std::to_string(p.from_seq));
}

Result<void> AgentState::finish_rotation(std::string_view old_id) {
    for (auto key : {keys::rotation_new_id, keys::rotation_from_seq}) {
        if (auto ok = m_settings.erase(key); !ok) {
            return ok;
        }
    }
    return m_settings.set(keys::rotated_from, old_id);
}

Result<std::optional<std::string>> AgentState::rotated_from() {
    return m_settings.get(keys::rotated_from);
}

Result<std::int64_t> AgentState::pull_cursor() {
    return get_int(keys::pull_cursor);
}

Result<std::string> AgentState::epoch() {
    auto value = m_settings.get(keys::epoch);
    if (!value) {
        return tl::unexpected(value.error());
    }
    return value->value_or("");
}

Result<void> AgentState::set_pull_position(std::int64_t cursor, std::string_view epoch) {
    if (auto ok = m_settings.set(keys::pull_cursor, std::to_string(cursor)); !ok) {
        return ok;
    }
    return m_settings.set(keys::epoch, epoch);
}

Result<void> AgentState::quarantine(const QuarantineEntry& e) {
    return m_db
        ->query("INSERT INTO quarantine(device_id, seq, direction, entity_type, entity_id, code,"
                " message, at) VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(device_id, seq) DO UPDATE SET"
                " direction = excluded.direction, code = excluded.code,"
                " message = excluded.message, at = excluded.at",
                e.device_id, e.seq, e.direction, e.entity_type, e.entity_id, e.code, e.message,
                e.at)
        .run();
}

Result<void> AgentState::release(std::string_view device_id, std::int64_t seq) {
    return release_where("DELETE FROM quarantine WHERE device_id = ? AND seq = ?", device_id, seq);
}

Result<void> AgentState::release_from(std::string_view device_id, std::int64_t from_seq) {
    return release_where("DELETE FROM quarantine WHERE device_id = ? AND seq >= ?", device_id,
                         from_seq);
}

Result<void> AgentState::release_where(std::string_view sql, std::string_view device_id,
                                       std::int64_t seq) {
    return m_db->query(sql, device_id, seq).run();
}

Result<std::vector<QuarantineEntry>> AgentState::quarantined(std::int64_t limit) {
    return m_db
        ->query("SELECT direction, device_id, seq, entity_type, entity_id, code, message, at"
                " FROM quarantine ORDER BY at, device_id, seq LIMIT ?",
                limit)
        .collect([](const storage::Statement& s) {
            return QuarantineEntry{s.column_text(0), s.column_text(1), s.column_int(2),
                                   s.column_text(3), s.column_text(4), s.column_text(5),
                                   s.column_text(6), s.column_text(7)};
        });
}

Result<std::int64_t> AgentState::quarantined_count() {
    auto n = m_db->query("SELECT count(*) FROM quarantine").one<std::int64_t>();
    if (!n) {
        return tl::unexpected(n.error());
    }
    return n->value_or(0);
}

Result<void> AgentState::record(const SyncLogEntry& e) {
    auto inserted =
        m_db->query("INSERT INTO sync_log(started_at, duration_ms, result, message, pushed, pulled,"
                    " rejected, bytes_up, bytes_down, requests, attempts)"
                    " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                    e.started_at, e.duration_ms, e.result, e.message, e.pushed, e.pulled,
                    e.rejected, e.bytes_up, e.bytes_down, e.requests, e.attempts)
            .run();
    if (!inserted) {
        return inserted;
    }
    return m_db
        ->query("DELETE FROM sync_log WHERE id <= ?", m_db->last_insert_rowid() - k_log_rows_kept)
        .run();
}

Result<std::vector<SyncLogEntry>> AgentState::log(std::int64_t limit) {
    return m_db
        ->query("SELECT id, started_at, duration_ms, result, message, pushed, pulled, rejected,"
                " bytes_up, bytes_down, requests, attempts FROM sync_log ORDER BY id DESC LIMIT ?",
                limit)
        .collect([](const storage::Statement& s) {
            // Columns in the order of SyncLogEntry's members.
            return SyncLogEntry{s.column_int(0),  s.column_text(1), s.column_int(2),
                                s.column_text(3), s.column_text(4), s.column_int(5),
                                s.column_int(6),  s.column_int(7),  s.column_int(8),
                                s.column_int(9),  s.column_int(10), s.column_int(11)};
        });
}

} // namespace caravan::sync::agent
