#include "caravan/client/visit_totals.hpp"

#include <array>
#include <string>
#include <string_view>

#include "caravan/client/projection.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/storage/migrations.hpp"

namespace caravan::client::visit_totals {

namespace {

constexpr std::string_view k_tables_sql = R"sql(
CREATE TABLE IF NOT EXISTS visit_totals(
    visit_id TEXT NOT NULL PRIMARY KEY,
    attendance INTEGER NOT NULL,
    people INTEGER NOT NULL,
    people_unrecorded_gender INTEGER NOT NULL,
    people_unrecorded_age INTEGER NOT NULL,
    people_unrecorded_category INTEGER NOT NULL,
    consultations INTEGER NOT NULL,
    cases INTEGER NOT NULL,
    consultations_unrecorded_gender INTEGER NOT NULL,
    consultations_unrecorded_age INTEGER NOT NULL,
    consultations_unrecorded_category INTEGER NOT NULL,
    photos INTEGER NOT NULL,
    surveys INTEGER NOT NULL,
    respondents INTEGER NOT NULL,
    satisfied INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visit_breakdowns(
    visit_id TEXT NOT NULL,
    source TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    records INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (visit_id, source, field, value)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visit_lawyers(
    visit_id TEXT NOT NULL,
    lawyer TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (visit_id, lawyer)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS visit_codes(
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    visit_id TEXT NOT NULL,
    records INTEGER NOT NULL,
    PRIMARY KEY (field, value, visit_id)
) STRICT, WITHOUT ROWID;
)sql";

// The columns of visit_totals after visit_id, in order.
constexpr std::array<std::string_view, 14> k_total_columns = {
    "attendance",
    "people",
    "people_unrecorded_gender",
    "people_unrecorded_age",
    "people_unrecorded_category",
    "consultations",
    "cases",
    "consultations_unrecorded_gender",
    "consultations_unrecorded_age",
    "consultations_unrecorded_category",
    "photos",
    "surveys",
    "respondents",
    "satisfied",
};

// One record table's part in the totals, written over a row named by `r` ("new", "old", or a
// table alias): its visit, the 14 values it adds to visit_totals, and the people it adds to
// each breakdown value (an empty `weight`: none).
struct Source {
    std::string_view table;
    std::string_view breakdown_source; // visit_breakdowns.source; empty: none
    std::string (*weight)(std::string_view r);
    std::array<std::string (*)(std::string_view r), 14> totals;
    // The columns its contribution depends on: an update of no other column changes nothing.
    std::string_view watched;
    bool lawyers = false; // adds to visit_lawyers
    bool codes = false;   // adds to visit_codes (its topics and outcome)
};

std::string col(std::string_view r, std::string_view name) {
    return std::string(r) + "." + std::string(name);
}
std::string unrecorded(std::string_view r, std::string_view name) {
    return "(coalesce(" + col(r, name) + ", 'unrecorded') = 'unrecorded')";
}
std::string zero(std::string_view) { return "0"; }
std::string one(std::string_view) { return "1"; }
std::string head_count(std::string_view r) { return "coalesce(" + col(r, "count") + ", 0)"; }

const Source k_attendance{
    "attendance",
    "attendance",
    head_count,
    {one, head_count,
     [](std::string_view r) { return head_count(r) + " * " + unrecorded(r, "gender"); },
     [](std::string_view r) { return head_count(r) + " * " + unrecorded(r, "age"); },
     [](std::string_view r) { return head_count(r) + " * " + unrecorded(r, "category"); }, zero,
     zero, zero, zero, zero, zero, zero, zero, zero},
    "visit_id, gender, age, category, vulnerable, count, deleted, _created",
};
const Source k_consultations{
    "consultations",
    "consultation",
    one,
    {zero, zero, zero, zero, zero, one,
     [](std::string_view r) { return "(" + col(r, "outcome") + " IS 'case')"; },
     [](std::string_view r) { return unrecorded(r, "gender"); },
     [](std::string_view r) { return unrecorded(r, "age"); },
     [](std::string_view r) { return unrecorded(r, "category"); }, zero, zero, zero, zero},
    "visit_id, lawyer, gender, age, category, vulnerable, outcome, topics, deleted, _created",
    true,
    true,
};
const Source k_photos{
    "photos",
    "",
    nullptr,
    {zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, one, zero, zero, zero},
    "visit_id, deleted, _created",
};
const Source k_surveys{
    "surveys",
    "",
    nullptr,
    {zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, one,
     [](std::string_view r) { return "coalesce(" + col(r, "respondents") + ", 0)"; },
     [](std::string_view r) { return "coalesce(" + col(r, "satisfied") + ", 0)"; }},
    "visit_id, respondents, satisfied, deleted, _created",
};
const std::array<const Source*, 4> k_sources = {&k_attendance, &k_consultations, &k_photos,
                                                &k_surveys};

std::string visible(std::string_view r) {
    return col(r, "_created") + " IS NOT NULL AND NOT coalesce(" + col(r, "deleted") + ", 0)";
}
std::string visit_of(std::string_view r) { return "coalesce(" + col(r, "visit_id") + ", '')"; }

// Each breakdown field and the value row r has for it.
constexpr std::array<std::string_view, 4> k_breakdown_fields = {"gender", "age", "category",
                                                                "vulnerable"};
std::string breakdown_value(std::string_view r, std::string_view field) {
    if (field == "vulnerable") {
        return "CASE WHEN " + col(r, field) + " IS NULL THEN 'unrecorded' WHEN " + col(r, field) +
               " THEN 'yes' ELSE 'no' END";
    }
    return "coalesce(" + col(r, field) + ", 'unrecorded')";
}

// (field, value) of each breakdown at row r (`new` or `old` in a trigger), as a UNION ALL of
// one-row selects.
std::string breakdown_values(std::string_view r) {
    std::string sql;
    for (std::string_view field : k_breakdown_fields) {
        sql += sql.empty() ? "" : " UNION ALL ";
        sql += "SELECT '" + std::string(field) + "' AS field, " + breakdown_value(r, field) +
               " AS value";
    }
    return sql;
}

// (field, value) of each code row r holds: each distinct topic of its list (a list that is not
// valid JSON holds none), and its outcome when it has one.
std::string valid_list(const std::string& list) {
    return "CASE WHEN json_valid(" + list + ") THEN " + list + " END";
}
std::string code_values(std::string_view r) {
    return "SELECT DISTINCT 'topic' AS field, t.value AS value FROM json_each(" +
           valid_list(col(r, "topics")) + ") t WHERE t.type = 'text' UNION ALL SELECT 'outcome', " +
           col(r, "outcome") + " WHERE " + col(r, "outcome") + " IS NOT NULL";
}

// The statements adding (sign "+") or taking away (sign "-") row r's contribution, where r
// is visible.
std::string delta_sql(const Source& s, std::string_view r, char sign) {
    const std::string sg = sign == '-' ? "-" : "";
    std::string columns, values, sets;
    for (std::size_t i = 0; i < k_total_columns.size(); ++i) {
        const std::string c(k_total_columns[i]);
        columns += ", " + c;
        values += ", " + sg + "(" + s.totals[i](r) + ")";
        sets += std::string(i ? ", " : "") + c + " = " + c + " + excluded." + c;
    }
    std::string sql = "INSERT INTO visit_totals(visit_id" + columns + ") SELECT " + visit_of(r) +
                      values + " WHERE " + visible(r) +
                      " ON CONFLICT(visit_id) DO UPDATE SET " + sets + ";\n";
    if (s.weight) {
        sql += "INSERT INTO visit_breakdowns(visit_id, source, field, value, records, n) SELECT " +
               visit_of(r) + ", '" + std::string(s.breakdown_source) + "', b.field, b.value, " +
               sg + "1, " + sg + "(" + s.weight(r) + ") FROM (" + breakdown_values(r) +
               ") b WHERE " + visible(r) +
               " ON CONFLICT DO UPDATE SET records = records + excluded.records, n = n + excluded.n;\n";
    }
    if (s.lawyers) {
        sql += "INSERT INTO visit_lawyers(visit_id, lawyer, n) SELECT " + visit_of(r) +
               ", coalesce(" + col(r, "lawyer") + ", ''), " + sg + "1 WHERE " + visible(r) +
               " ON CONFLICT DO UPDATE SET n = n + excluded.n;\n";
    }
    if (s.codes) {
        sql += "INSERT INTO visit_codes(field, value, visit_id, records) SELECT c.field, c.value, " +
               visit_of(r) + ", " + sg + "1 FROM (" + code_values(r) + ") c WHERE " + visible(r) +
               " ON CONFLICT DO UPDATE SET records = records + excluded.records;\n";
    }
    return sql;
}

// Rows left at zero go: the tables hold only what some visible record adds. Only a delete or an
// update can leave one there (an insert adds to every row it touches).
std::string cleanup_sql(std::string_view visits) {
    return "DELETE FROM visit_totals WHERE visit_id IN (" + std::string(visits) +
           ") AND attendance = 0 AND consultations = 0 AND photos = 0 AND surveys = 0;\n"
           "DELETE FROM visit_breakdowns WHERE visit_id IN (" +
           std::string(visits) +
           ") AND records = 0;\n"
           "DELETE FROM visit_lawyers WHERE visit_id IN (" +
           std::string(visits) + ") AND n = 0;\n";
}
// visit_codes is keyed by code first: its rows of row r's codes at the visit.
std::string codes_cleanup_sql(std::string_view r) {
    return "DELETE FROM visit_codes WHERE (field, value, visit_id) IN (SELECT c.field, c.value, " +
           visit_of(r) + " FROM (" + code_values(r) + ") c) AND records = 0;\n";
}

std::string trigger_name(const Source& s, std::string_view what) {
    return "totals_" + std::string(s.table) + "_" + std::string(what);
}

std::string triggers_sql() {
    std::string sql;
    for (const Source* s : k_sources) {
        const std::string t(s->table);
        sql += "CREATE TRIGGER " + trigger_name(*s, "insert") + " AFTER INSERT ON " + t +
               " WHEN " + visible("new") + " BEGIN\n" + delta_sql(*s, "new", '+') + "END;\n";
        sql += "CREATE TRIGGER " + trigger_name(*s, "delete") + " AFTER DELETE ON " + t +
               " WHEN " + visible("old") + " BEGIN\n" + delta_sql(*s, "old", '-') +
               cleanup_sql(visit_of("old")) + (s->codes ? codes_cleanup_sql("old") : "") +
               "END;\n";
        std::string changed;
        const std::string_view watched = s->watched;
        for (std::size_t pos = 0; pos < watched.size();) {
            std::size_t end = watched.find(", ", pos);
            const std::string c(watched.substr(pos, end - pos));
            changed += std::string(changed.empty() ? "" : " OR ") + "old." + c + " IS NOT new." + c;
            pos = end == std::string_view::npos ? watched.size() : end + 2;
        }
        sql += "CREATE TRIGGER " + trigger_name(*s, "update") + " AFTER UPDATE OF " +
               std::string(watched) + " ON " + t + " WHEN " + changed + " BEGIN\n" +
               delta_sql(*s, "old", '-') + delta_sql(*s, "new", '+') +
               cleanup_sql(visit_of("old") + ", " + visit_of("new")) +
               (s->codes ? codes_cleanup_sql("old") : "") + "END;\n";
    }
    return sql;
}

std::string drop_triggers_sql() {
    std::string sql;
    for (const Source* s : k_sources) {
        for (std::string_view what : {"insert", "delete", "update"}) {
            sql += "DROP TRIGGER IF EXISTS " + trigger_name(*s, what) + ";";
        }
    }
    return sql;
}

// What the records add up to now, computed from them: the contents the three tables must have
// (one SELECT each, in their column order).
std::string computed_totals_sql() {
    std::string parts;
    for (const Source* s : k_sources) {
        parts += parts.empty() ? "" : " UNION ALL ";
        parts += "SELECT " + visit_of("r") + " AS visit_id";
        for (std::size_t i = 0; i < k_total_columns.size(); ++i) {
            parts += ", " + s->totals[i]("r") + " AS " + std::string(k_total_columns[i]);
        }
        parts += " FROM " + std::string(s->table) + " r WHERE " + visible("r");
    }
    std::string sums;
    for (std::string_view c : k_total_columns) {
        sums += ", sum(" + std::string(c) + ")";
    }
    return "SELECT visit_id" + sums + " FROM (" + parts + ") GROUP BY visit_id";
}
std::string computed_breakdowns_sql() {
    std::string parts;
    for (const Source* s : k_sources) {
        if (!s->weight) {
            continue;
        }
        for (std::string_view field : k_breakdown_fields) {
            parts += parts.empty() ? "" : " UNION ALL ";
            parts += "SELECT " + visit_of("r") + " AS visit_id, '" +
                     std::string(s->breakdown_source) + "' AS source, '" + std::string(field) +
                     "' AS field, " + breakdown_value("r", field) + " AS value, " +
                     s->weight("r") + " AS n FROM " + std::string(s->table) + " r WHERE " +
                     visible("r");
        }
    }
    return "SELECT visit_id, source, field, value, count(*), sum(n) FROM (" + parts +
           ") GROUP BY visit_id, source, field, value";
}
std::string computed_codes_sql() {
    return "SELECT 'topic', t.value, " + visit_of("r") +
           ", count(DISTINCT r.id) FROM consultations r, json_each(" + valid_list("r.topics") +
           ") t WHERE t.type = 'text' AND " + visible("r") +
           " GROUP BY 2, 3 UNION ALL SELECT 'outcome', r.outcome, " + visit_of("r") +
           ", count(*) FROM consultations r WHERE r.outcome IS NOT NULL AND " + visible("r") +
           " GROUP BY 2, 3";
}
std::string computed_lawyers_sql() {
    return "SELECT " + visit_of("r") + ", coalesce(r.lawyer, ''), count(*) FROM consultations r"
           " WHERE " +
           visible("r") + " GROUP BY 1, 2";
}

struct Table {
    std::string_view name;
    std::string (*computed)();
};
constexpr std::array<Table, 4> k_tables = {{
    {"visit_totals", computed_totals_sql},
    {"visit_breakdowns", computed_breakdowns_sql},
    {"visit_lawyers", computed_lawyers_sql},
    {"visit_codes", computed_codes_sql},
}};

std::string fill_sql(const Table& t) {
    return "DELETE FROM " + std::string(t.name) + ";\nINSERT INTO " + std::string(t.name) + " " +
           t.computed() + ";\n";
}
std::string fill_sql() {
    std::string sql;
    for (const Table& t : k_tables) {
        sql += fill_sql(t);
    }
    return sql;
}

// The tables computed from the records, with the triggers made again.
std::string remake_sql(const std::string& fill) {
    return drop_triggers_sql() + std::string(k_tables_sql) + fill + triggers_sql();
}

} // namespace

Result<void> install(storage::Database& db) {
    // Version 2 added visit_codes (and the topics to the consultations' triggers): it fills that
    // table and makes the triggers again.
    static const std::string v1 = std::string(k_tables_sql) + fill_sql() + triggers_sql();
    static const std::string v2 = remake_sql(fill_sql(k_tables.back()));
    static const storage::Migration steps[] = {{1, v1}, {2, v2}};
    return storage::migrate(db, "totals", steps);
}

Result<void> drop_triggers(storage::Database& db) { return db.exec(drop_triggers_sql()); }

Result<void> recompute(storage::Database& db) {
    static const std::string sql = remake_sql(fill_sql());
    return db.exec(sql);
}

Result<bool> present(storage::Database& db) {
    CARAVAN_TRY(n, db.query("SELECT count(*) FROM sqlite_schema WHERE name = ?",
                            std::string("visit_totals"))
                       .one<std::int64_t>());
    return n.value_or(0) > 0;
}

Result<bool> matches_tables(storage::Database& db) {
    CARAVAN_TRY(has_tables, present(db));
    if (!has_tables) {
        return false;
    }
    for (const Table& t : k_tables) {
        const std::string kept = "SELECT * FROM " + std::string(t.name);
        // Wrapped: a computation that is itself a compound SELECT stays one operand.
        const std::string computed = "SELECT * FROM (" + t.computed() + ")";
        CARAVAN_TRY(differing,
                    db.query("SELECT count(*) FROM (" + kept + " EXCEPT " + computed +
                             " UNION ALL SELECT * FROM (" + computed + " EXCEPT " + kept + "))")
                        .one<std::int64_t>());
        if (differing.value_or(0) != 0) {
            return false;
        }
    }
    return true;
}

} // namespace caravan::client::visit_totals

namespace caravan::client {

Result<void> rebuild_projections(storage::Database& db, Projector& projector) {
    CARAVAN_TRY_VOID(search_index::drop_triggers(db));
    CARAVAN_TRY_VOID(visit_totals::drop_triggers(db));
    CARAVAN_TRY_VOID(projector.rebuild());
    CARAVAN_TRY_VOID(search_index::rebuild(db));
    return visit_totals::recompute(db);
}

} // namespace caravan::client
