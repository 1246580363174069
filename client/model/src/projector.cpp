#include "caravan/client/projector.hpp"

#include <sodium.h>

#include <map>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/new_record.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/migrations.hpp"

namespace caravan::client {

using nlohmann::json;
using storage::Event;
using storage::Statement;

namespace {

// ---- SQL derived from the entity table ----------------------------------------------------

std::string_view sql_type(FieldType type) {
    switch (type) {
    case FieldType::integer:
    case FieldType::boolean: return "INTEGER";
    case FieldType::real: return "REAL";
    case FieldType::text:
    case FieldType::text_list: return "TEXT";
    }
    return "TEXT";
}

struct EntitySql {
    std::string insert_create; // id, fields..., _created
    std::string insert_partial; // id, fields..., _v
    std::string select;        // fields..., _created, _v WHERE id
    std::string update;        // fields..., _created, _v, id
};

const EntitySql& sql_for(const EntityDef& def) {
    static std::mutex mutex;
    static std::map<const EntityDef*, EntitySql> cache;
    std::lock_guard lock(mutex);
    auto found = cache.find(&def);
    if (found != cache.end()) {
        return found->second;
    }
    std::string cols, marks, sets;
    for (const FieldDef& f : def.fields) {
        cols += std::string(f.name) + ", ";
        marks += "?, ";
        sets += std::string(f.name) + " = ?, ";
    }
    std::string table(def.table);
    EntitySql sql;
    sql.insert_create = "INSERT INTO " + table + "(id, " + cols + "_created, _v) VALUES(?, " +
                        marks + "?, '{}') ON CONFLICT(id) DO NOTHING";
    sql.insert_partial = "INSERT INTO " + table + "(id, " + cols + "_created, _v) VALUES(?, " +
                         marks + "NULL, ?)";
    sql.select = "SELECT " + cols + "_created, _v FROM " + table + " WHERE id = ?";
    sql.update = "UPDATE " + table + " SET " + sets + "_created = ?, _v = ? WHERE id = ?";
    return cache.emplace(&def, std::move(sql)).first->second;
}

std::string create_table_sql(const EntityDef& def) {
    std::string sql = "CREATE TABLE " + std::string(def.table) + "(id TEXT PRIMARY KEY, ";
    for (const FieldDef& f : def.fields) {
        sql += std::string(f.name) + " " + std::string(sql_type(f.type)) + ", ";
    }
    sql += "_created TEXT, _v TEXT NOT NULL DEFAULT '{}') STRICT;\n";
    return sql;
}

void bind_value(Statement& stmt, int index, const FieldDef& field, const json& value) {
    if (value.is_null()) {
        stmt.bind(index, std::nullopt);
        return;
    }
    switch (field.type) {
    case FieldType::text: stmt.bind(index, value.get_ref<const std::string&>()); break;
    case FieldType::integer: stmt.bind(index, value.get<std::int64_t>()); break;
    case FieldType::real: stmt.bind(index, value.get<double>()); break;
    case FieldType::boolean: stmt.bind(index, value.get<bool>()); break;
    case FieldType::text_list: stmt.bind(index, value.dump()); break;
    }
}

// A typed value of a local create. Text is bound without a copy: the record's strings outlive
// the insert. A list is written to JSON text here, so that one is copied.
void bind_new_value(Statement& stmt, int index, const NewRecord::Value& value) {
    std::visit(
        [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, std::nullptr_t>) {
                stmt.bind(index, std::nullopt);
            } else if constexpr (std::is_same_v<V, std::span<const std::string>>) {
                std::string list;
                append_json_strings(list, v);
                stmt.bind(index, list);
            } else if constexpr (std::is_same_v<V, std::string_view>) {
                stmt.bind_view(index, v);
            } else {
                stmt.bind(index, v);
            }
        },
        value);
}

json read_value(const Statement& stmt, int column, const FieldDef& field) {
    if (stmt.is_null(column)) {
        return nullptr;
    }
    switch (field.type) {
    case FieldType::text: return stmt.column_text(column);
    case FieldType::integer: return stmt.column_int(column);
    case FieldType::real: return stmt.column_double(column);
    case FieldType::boolean: return stmt.column_int(column) != 0;
    case FieldType::text_list: return json::parse(stmt.column_text(column), nullptr, false);
    }
    return nullptr;
}

Result<void> check_field(const EntityDef& def, const FieldDef& field, const json& value,
                         bool create, EventCheck check) {
    auto bad = [&](const Message& why, auto&&... args) {
        // i18n-forwards: `why` is one of msg::event_value_*
        Error detail = make_error(ErrorCode::invalid_input, why, args...);
        return fail(ErrorCode::invalid_input, msg::event_field_invalid, def.type, field.name,
                    detail);
    };
    if (value.is_null()) {
        if (create && field.required) {
            return bad(msg::event_value_required);
        }
        return {};
    }
    auto check_text = [&](const json& v) -> Result<void> {
        if (!v.is_string()) {
            return bad(msg::event_value_not_string);
        }
        const auto& s = v.get_ref<const std::string&>();
        if (!is_valid_utf8(s)) {
            return bad(msg::event_value_not_utf8);
        }
        if (utf8_length(s) > k_max_note_chars) {
            return bad(msg::event_value_too_long);
        }
        if (check == EventCheck::incoming && !is_safe_text(s, true)) {
            return bad(msg::event_value_control);
        }
        if (field.enumeration && !field.enumeration->find(s)) {
            return bad(msg::event_value_not_one_of, field.enumeration->allowed());
        }
        return {};
    };
    switch (field.type) {
    case FieldType::text: return check_text(value);
    case FieldType::integer:
        if (!value.is_number_integer() || value.get<std::int64_t>() < 0) {
            return bad(msg::event_value_not_count);
        }
        return {};
    case FieldType::real:
        if (!value.is_number()) {
            return bad(msg::event_value_not_number);
        }
        return {};
    case FieldType::boolean:
        if (!value.is_boolean()) {
            return bad(msg::event_value_not_boolean);
        }
        return {};
    case FieldType::text_list:
        if (!value.is_array() || value.empty() || value.size() > 64) {
            return bad(msg::event_value_not_list);
        }
        for (const json& item : value) {
            if (auto ok = check_text(item); !ok) {
                return ok;
            }
        }
        return {};
    }
    return {};
}

Result<json> parse_payload(const Event& event) {
    json payload = json::parse(event.payload, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) {
        return fail(ErrorCode::invalid_input, msg::event_payload_not_object);
    }
    return payload;
}

const json& empty_object() {
    static const json empty = json::object();
    return empty;
}

const json& fields_of(const json& payload) {
    auto it = payload.find("fields");
    return it != payload.end() && it->is_object() ? *it : empty_object();
}

const json& base_of(const json& payload) {
    auto it = payload.find("base");
    return it != payload.end() && it->is_object() ? *it : empty_object();
}

// Did the author of `observer` see `other` when writing? True when, for some field `other`
// wrote, the observer's base records that version or a later one.
bool saw(const Event& observer, const json& observer_payload, const json& other_fields,
         const std::string& other_version) {
    if (observer.op == k_op_create) {
        return false;
    }
    const json& base = base_of(observer_payload);
    for (auto it = other_fields.begin(); it != other_fields.end(); ++it) {
        auto b = base.find(it.key());
        if (b != base.end() && b->is_string() && b->get_ref<const std::string&>() >= other_version) {
            return true;
        }
    }
    return false;
}

} // namespace

std::string version_of(std::int64_t hlc, std::string_view device_id) {
    return Hlc{hlc}.to_hex() + "@" + std::string(device_id);
}

Result<void> validate_event(const Event& event, EventCheck check) {
    const EntityDef* def = find_entity(event.entity_type);
    if (!def) {
        return fail(ErrorCode::invalid_input, msg::event_unknown_type);
    }
    if (event.schema_version < k_min_event_schema_version ||
        event.schema_version > k_event_schema_version) {
        return fail(ErrorCode::upgrade_required, msg::event_schema_unsupported,
                    event.schema_version, k_min_event_schema_version, k_event_schema_version);
    }
    if (event.op != k_op_create && event.op != k_op_update && event.op != k_op_delete) {
        return fail(ErrorCode::invalid_input, msg::event_unknown_op);
    }
    if (!is_uuid(event.entity_id) || !is_uuid(event.device_id)) {
        return fail(ErrorCode::invalid_input, msg::event_ids_not_uuid);
    }
    if (event.seq <= 0 || event.hlc <= 0) {
        return fail(ErrorCode::invalid_input, msg::event_seq_hlc);
    }
    auto payload = parse_payload(event);
    if (!payload) {
        return tl::unexpected(payload.error());
    }
    auto fields = payload->find("fields");
    if (fields == payload->end() || !fields->is_object()) {
        return fail(ErrorCode::invalid_input, msg::event_no_fields);
    }
    if (auto base = payload->find("base"); base != payload->end()) {
        if (!base->is_object()) {
            return fail(ErrorCode::invalid_input, msg::event_base_not_object);
        }
        for (auto it = base->begin(); it != base->end(); ++it) {
            if (!it->is_string() || !def->field(it.key())) {
                return fail(ErrorCode::invalid_input, msg::event_base_unknown_field);
            }
        }
    }
    if (auto settles = payload->find(k_settles_key); settles != payload->end()) {
        // [[field, a_version, b_version], ...]: the conflicts on fields this event writes that
        // its author's device listed (docs/sync-algorithm.md 2.3). Bounded like a record's fields.
        bool valid = settles->is_array() && settles->size() <= 64 && event.op != k_op_create;
        for (const json& pair : valid ? *settles : json::array()) {
            valid = pair.is_array() && pair.size() == 3 && pair[0].is_string() &&
                    fields->contains(pair[0].get_ref<const std::string&>()) &&
                    pair[1].is_string() && pair[2].is_string() &&
                    pair[1].get_ref<const std::string&>().size() <= 64 &&
                    pair[2].get_ref<const std::string&>().size() <= 64;
            if (!valid) {
                break;
            }
        }
        if (!valid) {
            return fail(ErrorCode::invalid_input, msg::event_settles_invalid);
        }
    }
    bool create = event.op == k_op_create;
    for (auto it = fields->begin(); it != fields->end(); ++it) {
        const FieldDef* field = def->field(it.key());
        if (!field) {
            return fail(ErrorCode::invalid_input, msg::event_unknown_field, def->type);
        }
        if (auto ok = check_field(*def, *field, *it, create, check); !ok) {
            return ok;
        }
    }
    if (create) {
        for (const FieldDef& field : def->fields) {
            if (field.required && !fields->contains(field.name)) {
                return fail(ErrorCode::invalid_input, msg::event_field_invalid, def->type,
                            field.name,
                            make_error(ErrorCode::invalid_input, msg::event_value_required));
            }
        }
    } else if (fields->empty()) {
        return fail(ErrorCode::invalid_input, msg::event_update_empty);
    }
    if (event.op == k_op_delete &&
        (fields->size() != 1 || !fields->contains(k_deleted_field))) {
        return fail(ErrorCode::invalid_input, msg::event_delete_fields);
    }
    return {};
}

Result<void> Projector::install(storage::Database& db) {
    static const std::string v1 = [] {
        std::string sql;
        for (const EntityDef* def : all_entities()) {
            sql += create_table_sql(*def);
        }
        sql += R"sql(
CREATE INDEX visits_by_village ON visits(village_id);
CREATE INDEX visits_by_date ON visits(date);
CREATE INDEX consultations_by_visit ON consultations(visit_id);
CREATE INDEX attendance_by_visit ON attendance(visit_id);
CREATE INDEX surveys_by_visit ON surveys(visit_id);
CREATE INDEX photos_by_visit ON photos(visit_id);
CREATE INDEX photos_by_hash ON photos(sha256);
CREATE TABLE conflicts(
    entity_type TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    field       TEXT NOT NULL,
    a_version   TEXT NOT NULL,
    a_value     TEXT NOT NULL,
    b_version   TEXT NOT NULL,
    b_value     TEXT NOT NULL,
    PRIMARY KEY (entity_id, field, a_version, b_version)
) STRICT;
)sql";
        return sql;
    }();
    // 2: conflicts settled by a later write (detect_conflicts) leave the table; a database
    // projected before the rule drops the ones its log already settles, as a rebuild would.
    // 3: the list orders of consultations (visit date, visit id, consultation id: the record
    // browser, client::exports::find_records) follow indexes instead of sorting: visits by
    // (date, id), consultations by (visit_id, id). Each replaces the index on its first column
    // alone, which it serves as well. Written to run again harmlessly (a file whose recorded
    // version was set back).
    static constexpr std::string_view v3 = R"sql(
CREATE INDEX IF NOT EXISTS visits_by_date_id ON visits(date, id);
CREATE INDEX IF NOT EXISTS consultations_by_visit_id ON consultations(visit_id, id);
DROP INDEX IF EXISTS visits_by_date;
DROP INDEX IF EXISTS consultations_by_visit;
)sql";
    static const storage::Migration steps[] = {
        {1, v1}, {2, "", &settle_recorded_conflicts}, {3, v3}};
    return storage::migrate(db, "projections", steps);
}

Result<void> Projector::apply(const Event& event) {
    if (auto ok = validate_event(event, EventCheck::stored); !ok) {
        return ok;
    }
    auto payload = parse_payload(event);
    if (!payload) {
        return tl::unexpected(payload.error());
    }
    return apply(event, *payload);
}

Result<void> Projector::apply(const Event& event, const json& payload) {
    const EntityDef* def = find_entity(event.entity_type);
    if (!def) {
        return fail(ErrorCode::invalid_input, msg::event_unknown_type);
    }
    const EntitySql& sql = sql_for(*def);
    const json& fields = fields_of(payload);
    const std::string version = version_of(event.hlc, event.device_id);
    const bool create = event.op == k_op_create;
    static const json null_value = nullptr;
    auto value_in = [&](const json& object, std::string_view name) -> const json& {
        auto it = object.find(name);
        return it == object.end() ? null_value : *it;
    };

    if (create) {
        auto inserted = insert_new(*def, event, version, [&](Statement& s, int i, std::size_t k) {
            const FieldDef& f = def->fields[k];
            bind_value(s, i, f, value_in(fields, f.name));
        });
        if (!inserted || *inserted) {
            return inserted ? Result<void>() : tl::unexpected(inserted.error());
        }
    }

    const int n = static_cast<int>(def->fields.size());
    std::vector<json> values;
    std::optional<std::string> created;
    json overrides;
    CARAVAN_TRY(found, m_db->query(sql.select, event.entity_id).first([&](const Statement& r) {
        values.reserve(def->fields.size());
        for (int c = 0; c < n; ++c) {
            values.push_back(read_value(r, c, def->fields[static_cast<size_t>(c)]));
        }
        created = r.column_opt_text(n);
        overrides = json::parse(r.column_text(n + 1), nullptr, false);
    }));
    if (!found) {
        // An update seen before its record's create: keep what it says, invisible until created.
        auto insert = m_db->cached(sql.insert_partial);
        if (!insert) {
            return tl::unexpected(insert.error());
        }
        Statement& s = **insert;
        json versions = json::object();
        int i = 1;
        s.bind(i++, event.entity_id);
        for (const FieldDef& f : def->fields) {
            const json& v = value_in(fields, f.name);
            bind_value(s, i++, f, v);
            if (fields.contains(f.name)) {
                versions[std::string(f.name)] = version;
            }
        }
        s.bind(i, versions.dump());
        return s.run();
    }

    if (!overrides.is_object()) {
        return fail(ErrorCode::corrupt, msg::projection_damaged, def->table);
    }

    std::vector<std::string> versions;
    versions.reserve(def->fields.size());
    for (const FieldDef& f : def->fields) {
        auto it = overrides.find(f.name);
        versions.push_back(it != overrides.end() && it->is_string() ? it->get<std::string>()
                                                                    : created.value_or(""));
    }
    bool changed = false;
    for (size_t k = 0; k < def->fields.size(); ++k) {
        auto it = fields.find(def->fields[k].name);
        // A create writes every field of its schema, absent ones as null (an older program's
        // create lacks newer fields); otherwise the result would depend on arrival order.
        if ((it != fields.end() || create) && version > versions[k]) {
            values[k] = it != fields.end() ? *it : json(nullptr);
            versions[k] = version;
            changed = true;
        }
    }
    std::optional<std::string> new_created = created;
    if (create && (!created || version > *created)) {
        new_created = version;
        changed = true;
    }
    if (changed) {
        json compressed = json::object();
        for (size_t k = 0; k < def->fields.size(); ++k) {
            if (!versions[k].empty() && versions[k] != new_created.value_or("")) {
                compressed[std::string(def->fields[k].name)] = versions[k];
            }
        }
        auto update = m_db->cached(sql.update);
        if (!update) {
            return tl::unexpected(update.error());
        }
        Statement& s = **update;
        int i = 1;
        for (size_t k = 0; k < def->fields.size(); ++k) {
            bind_value(s, i++, def->fields[k], values[k]);
        }
        s.bind(i++, new_created);
        s.bind(i++, compressed.dump());
        s.bind(i, event.entity_id);
        if (auto ok = s.run(); !ok) {
            return ok;
        }
    }
    return detect_conflicts(event, payload, *def);
}

namespace {

// One write of the record being applied, its payload parsed once.
struct Write {
    const Event* event;
    json payload;
    std::string version;
};

// Does `settler` settle the conflict (`type`, `field`, a, b)? It writes the field, and names the
// pair in its "settles": its author's device listed that conflict, so it held both values, when
// the field was written again (docs/sync-algorithm.md, "Settled conflicts"). An edit of another
// field, or a write from a device that had not seen both sides, settles nothing.
bool settles(const Write& settler, std::string_view type, std::string_view field,
             std::string_view a, std::string_view b) {
    if (settler.event->op == k_op_create || settler.event->entity_type != type ||
        !fields_of(settler.payload).contains(field)) {
        return false;
    }
    auto list = settler.payload.find(k_settles_key);
    if (list == settler.payload.end() || !list->is_array()) {
        return false;
    }
    return std::any_of(list->begin(), list->end(), [&](const json& pair) {
        return pair.is_array() && pair.size() == 3 && pair[0] == field && pair[1] == a &&
               pair[2] == b;
    });
}

// Parses every write of a record once.
std::vector<Write> writes_of(const std::vector<Event>& events) {
    std::vector<Write> writes;
    writes.reserve(events.size());
    for (const Event& e : events) {
        json payload = json::parse(e.payload, nullptr, false);
        if (payload.is_object()) {
            writes.push_back({&e, std::move(payload), version_of(e.hlc, e.device_id)});
        }
    }
    return writes;
}

// Removes the record's conflict rows that one of `settlers` settles.
Result<void> settle_conflicts(storage::Database& db, const std::string& entity_id,
                              const std::vector<const Write*>& settlers) {
    struct Row {
        std::string type, field, a, b;
    };
    std::vector<Row> rows;
    CARAVAN_TRY_VOID(db.query("SELECT entity_type, field, a_version, b_version FROM conflicts"
                              " WHERE entity_id = ?",
                              entity_id)
                         .each([&](const Statement& r) {
                             rows.push_back({r.column_text(0), r.column_text(1), r.column_text(2),
                                             r.column_text(3)});
                         }));
    for (const Row& row : rows) {
        if (std::none_of(settlers.begin(), settlers.end(), [&](const Write* t) {
                return settles(*t, row.type, row.field, row.a, row.b);
            })) {
            continue;
        }
        CARAVAN_TRY_VOID(db.query("DELETE FROM conflicts WHERE entity_id = ? AND field = ?"
                                  " AND a_version = ? AND b_version = ?",
                                  entity_id, row.field, row.a, row.b)
                             .run());
    }
    return {};
}

} // namespace

Result<void> Projector::detect_conflicts(const Event& event, const json& payload,
                                         const EntityDef& def) {
    auto others = m_log.for_entity(event.entity_id);
    if (!others) {
        return tl::unexpected(others.error());
    }
    // Every write of this record (this event included), parsed once.
    const std::vector<Write> writes = writes_of(*others);
    const Write* me = nullptr;
    for (const Write& w : writes) {
        if (w.event->device_id == event.device_id && w.event->seq == event.seq) {
            me = &w;
        }
    }
    std::optional<Write> self; // an event not (yet) in the log: a caller's mistake, tolerated
    if (!me) {
        me = &self.emplace(Write{&event, payload, version_of(event.hlc, event.device_id)});
    }
    const json& mine = fields_of(payload);
    const std::string& my_version = me->version;
    auto touched = [](const json& fields, const json& base, const Event& e) {
        std::vector<std::string> names;
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            names.push_back(it.key());
        }
        // An edit also "reads" the deleted flag: a concurrent delete is a conflict with it.
        if (e.op == k_op_update && !fields.contains(k_deleted_field) &&
            base.contains(k_deleted_field)) {
            names.emplace_back(k_deleted_field);
        }
        return names;
    };
    const auto my_fields = touched(mine, base_of(payload), event);
    // A conflict some write in the log already settles is not recorded, whichever arrived first,
    // so that the table is the same after any arrival order and after a rebuild.
    auto settled = [&](std::string_view name, std::string_view a, std::string_view b) {
        return std::any_of(writes.begin(), writes.end(),
                           [&](const Write& t) { return settles(t, def.type, name, a, b); });
    };

    auto insert = m_db->cached(
        "INSERT INTO conflicts(entity_type, entity_id, field, a_version, a_value, b_version,"
        " b_value) VALUES(?,?,?,?,?,?,?) ON CONFLICT DO NOTHING");
    if (!insert) {
        return tl::unexpected(insert.error());
    }
    for (const Write& w : writes) {
        const Event& other = *w.event;
        // Only writes of the same record count; an id reused by a record of another type (which
        // a well-behaved device never does) must not make the result depend on arrival order.
        if (&w == me || other.entity_type != event.entity_type) {
            continue;
        }
        const json& other_payload = w.payload;
        const json& theirs = fields_of(other_payload);
        const std::string& other_version = w.version;
        if (other_version == my_version) {
            continue;
        }
        if (saw(event, payload, theirs, other_version) ||
            saw(other, other_payload, mine, my_version)) {
            continue;
        }
        const auto other_fields = touched(theirs, base_of(other_payload), other);
        for (const std::string& name : my_fields) {
            if (std::find(other_fields.begin(), other_fields.end(), name) == other_fields.end()) {
                continue;
            }
            bool i_write = mine.contains(name);
            bool they_write = theirs.contains(name);
            if (!i_write && !they_write) {
                continue;
            }
            // An undelete (or a create) against an edit: both want the record live, and the
            // edit's fields apply either way. Only a delete hides an edit.
            if (name == k_deleted_field && i_write != they_write &&
                (i_write ? mine.at(name) : theirs.at(name)) == false) {
                continue;
            }
            json my_value = i_write ? mine.at(name) : json{{"edited", mine}};
            json their_value = they_write ? theirs.at(name) : json{{"edited", theirs}};
            if (i_write && they_write && my_value == their_value) {
                continue;
            }
            bool mine_first = my_version < other_version;
            if (settled(name, mine_first ? my_version : other_version,
                        mine_first ? other_version : my_version)) {
                continue;
            }
            Statement& s = **insert;
            s.reset();
            s.bind_all(std::string(def.type), event.entity_id, name,
                       mine_first ? my_version : other_version,
                       (mine_first ? my_value : their_value).dump(),
                       mine_first ? other_version : my_version,
                       (mine_first ? their_value : my_value).dump());
            if (auto ok = s.run(); !ok) {
                return ok;
            }
        }
    }
    if (event.op == k_op_create || !payload.contains(k_settles_key)) {
        return {};
    }
    return settle_conflicts(*m_db, event.entity_id, {me});
}

Result<void> Projector::settle_recorded_conflicts(storage::Database& db) {
    std::vector<std::string> ids;
    CARAVAN_TRY_VOID(db.query("SELECT DISTINCT entity_id FROM conflicts ORDER BY 1")
                         .each([&](const Statement& r) { ids.push_back(r.column_text(0)); }));
    storage::EventLog log(db);
    for (const std::string& id : ids) {
        CARAVAN_TRY(events, log.for_entity(id));
        const std::vector<Write> writes = writes_of(events);
        std::vector<const Write*> settlers;
        for (const Write& w : writes) {
            settlers.push_back(&w);
        }
        CARAVAN_TRY_VOID(settle_conflicts(db, id, settlers));
    }
    return {};
}

template <class Bind>
Result<bool> Projector::insert_new(const EntityDef& def, const Event& event,
                                   const std::string& version, Bind&& bind) {
    // The common case: a new record. One insert, no read.
    auto insert = m_db->cached(sql_for(def).insert_create);
    if (!insert) {
        return tl::unexpected(insert.error());
    }
    Statement& s = **insert;
    s.bind_view(1, event.entity_id);
    for (std::size_t k = 0; k < def.fields.size(); ++k) {
        bind(s, static_cast<int>(k) + 2, k);
    }
    s.bind_view(static_cast<int>(def.fields.size()) + 2, version);
    if (auto ok = s.run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return m_db->changes() == 1;
}

Result<void> Projector::apply_new(const Event& event, const NewRecord& record) {
    auto inserted = insert_new(record.def(), event, version_of(event.hlc, event.device_id),
                               [&](Statement& s, int i, std::size_t k) {
                                   bind_new_value(s, i, record.value(k));
                               });
    if (!inserted || *inserted) {
        return inserted ? Result<void>() : tl::unexpected(inserted.error());
    }
    // The row exists already (an update of this record arrived first): the general path merges.
    auto payload = parse_payload(event);
    if (!payload) {
        return tl::unexpected(payload.error());
    }
    return apply(event, *payload);
}

Result<json> Projector::field_versions(const EntityDef& def, std::string_view id) {
    const int n = static_cast<int>(def.fields.size());
    std::optional<std::string> created;
    json overrides;
    CARAVAN_TRY(found, m_db->query(sql_for(def).select, id).first([&](const Statement& r) {
        created = r.column_opt_text(n);
        overrides = json::parse(r.column_text(n + 1), nullptr, false);
    }));
    json result = json::object();
    if (!found) {
        return result;
    }
    for (const FieldDef& f : def.fields) {
        if (overrides.is_object() && overrides.contains(f.name)) {
            result[std::string(f.name)] = overrides[std::string(f.name)];
        } else {
            result[std::string(f.name)] = created.value_or("");
        }
    }
    return result;
}

Result<json> Projector::settled_by(const EntityDef& def, std::string_view id,
                                   const json& fields) {
    json list = json::array();
    CARAVAN_TRY_VOID(m_db->query("SELECT field, a_version, b_version FROM conflicts"
                                 " WHERE entity_id = ? AND entity_type = ?"
                                 " ORDER BY field, a_version, b_version",
                                 id, def.type)
                         .each([&](const Statement& r) {
                             std::string field = r.column_text(0);
                             if (fields.contains(field)) {
                                 list.push_back(json::array(
                                     {std::move(field), r.column_text(1), r.column_text(2)}));
                             }
                         }));
    return list;
}

Result<void> Projector::rebuild() {
    for (const EntityDef* def : all_entities()) {
        if (auto ok = m_db->exec("DELETE FROM " + std::string(def->table)); !ok) {
            return ok;
        }
    }
    if (auto ok = m_db->exec("DELETE FROM conflicts"); !ok) {
        return ok;
    }
    std::int64_t after = 0;
    for (;;) {
        std::vector<Event> batch;
        auto visited = m_log.scan(after, 1000, [&](const Event& e) {
            batch.push_back(e);
            return true;
        });
        if (!visited) {
            return tl::unexpected(visited.error());
        }
        if (batch.empty()) {
            return {};
        }
        for (const Event& e : batch) {
            if (validate_event(e, EventCheck::stored)) {
                if (auto ok = apply(e); !ok) {
                    return ok;
                }
            }
            after = e.log_position;
        }
    }
}

Result<std::string> Projector::fingerprint() {
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    auto feed = [&](std::string_view text) {
        crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(text.data()),
                                  text.size());
        crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>("\x1f"), 1);
    };
    std::vector<std::string> queries;
    for (const EntityDef* def : all_entities()) {
        queries.push_back("SELECT * FROM " + std::string(def->table) + " ORDER BY id");
    }
    queries.emplace_back("SELECT * FROM conflicts ORDER BY entity_id, field, a_version, b_version");
    for (const std::string& q : queries) {
        feed(q);
        CARAVAN_TRY(stmt, m_db->prepare(q));
        CARAVAN_TRY_VOID(stmt.each([&](const Statement& row) {
            for (int c = 0; c < row.column_count(); ++c) {
                feed(row.is_null(c) ? std::string("\x01NULL") : row.column_text(c));
            }
        }));
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, digest);
    std::string hex(sizeof digest * 2, '0');
    sodium_bin2hex(hex.data(), hex.size() + 1, digest, sizeof digest);
    return hex;
}

} // namespace caravan::client
