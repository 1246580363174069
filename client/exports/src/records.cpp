#include "caravan/client/export/records.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "caravan/client/entities.hpp"
#include "caravan/client/export/snapshot.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/projection.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client::exports {

namespace {

constexpr int k_max_limit = 500;
constexpr int k_max_history = 1000;

// The columns every read shares: summary first (0..6), then the detail (7..15).
#define CARAVAN_RECORD_COLUMNS                                                                     \
    "c.id, coalesce(v.date, ''), coalesce(g.region, ''), coalesce(g.name, ''),"                    \
    " coalesce(c.lawyer, ''), coalesce(c.outcome, ''), coalesce(c.topics, '[]'),"                  \
    " g.district, coalesce(c.gender, ''), coalesce(c.age, ''), coalesce(c.category, ''),"          \
    " coalesce(c.question, ''), coalesce(c.advice, ''), coalesce(c.follow_up, 0), c.lang,"         \
    " c.vulnerable"
#define CARAVAN_RECORD_FROM                                                                        \
    " FROM consultations c LEFT JOIN visits v ON v.id = c.visit_id"                                \
    " LEFT JOIN villages g ON g.id = v.village_id WHERE " CARAVAN_VISIBLE_SQL("c.")

// Newest first (k_find_order); ?6/?7 continue after a page's last (date, id); ?8 names one
// visit. A word search the text index can narrow adds its candidates (?9, ...) before the order.
constexpr const char* k_find =
    "SELECT " CARAVAN_RECORD_COLUMNS CARAVAN_RECORD_FROM
    " AND (?1 IS NULL OR g.region IN (SELECT value FROM json_each(?1)))"
    " AND (?2 IS NULL OR v.date >= ?2) AND (?3 IS NULL OR v.date <= ?3)"
    " AND (?4 IS NULL OR c.outcome = ?4)"
    " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(c.topics) t WHERE t.value = ?5))"
    " AND (?6 IS NULL OR (coalesce(v.date, ''), c.id) < (?6, ?7))"
    " AND (?8 IS NULL OR c.visit_id = ?8)";
constexpr const char* k_find_order = " ORDER BY coalesce(v.date, '') DESC, c.id DESC";

constexpr const char* k_read = "SELECT " CARAVAN_RECORD_COLUMNS CARAVAN_RECORD_FROM " AND c.id = ?";

// The newest events of the consultation (reversed after reading); the device's own record
// names its lawyer.
constexpr const char* k_history =
    "SELECT e.hlc, e.op, e.payload, coalesce(d.lawyer, '') FROM events e"
    " LEFT JOIN devices d ON d.id = e.device_id"
    " WHERE e.entity_id = ?1 AND e.entity_type = 'consultation'"
    " ORDER BY e.hlc DESC, e.device_id DESC LIMIT ?2";

void read_summary(const storage::Statement& s, RecordSummary& r) {
    r.id = s.column_text(0);
    r.date = s.column_text(1);
    r.region = s.column_text(2);
    r.village = s.column_text(3);
    r.lawyer = s.column_text(4);
    r.outcome = s.column_text(5);
    decode_text_list(s.column_view(6), r.topics);
}

// True when `needle` (already folded) is part of `text` folded; an empty needle matches.
bool contains_folded(std::string_view text, const std::string& needle, std::string& scratch) {
    if (needle.empty()) {
        return true;
    }
    fold_case(text, scratch);
    return scratch.find(needle) != std::string::npos;
}

std::optional<std::string> folded(const std::optional<std::string>& text) {
    if (!text) {
        return std::nullopt;
    }
    std::string out = fold_case(normalize_space(*text));
    return out.empty() ? std::nullopt : std::optional(out);
}

} // namespace

Result<RecordPage> find_records(storage::Database& db, const RecordFilter& filter,
                                const std::optional<RecordCursor>& after, int limit) {
    limit = std::clamp(limit, 1, k_max_limit);
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    CARAVAN_TRY(scope, resolve_scope(db, filter.scope));
    CARAVAN_TRY(regions, region_spellings(db, scope.region));
    const std::string village = folded(filter.village).value_or("");
    const std::string text = folded(filter.text).value_or("");
    // Words that few consultations hold are looked up in the text index: it names the rows
    // that may hold them, which are then read in order and checked as every row is. Words
    // that many hold (or one or two letters) are found soon enough by reading rows in order.
    CARAVAN_TRY(candidates, search_index::candidates(db, text));
    CARAVAN_TRY(stmt, db.prepare(candidates ? std::string(k_find) + " AND c.rowid IN (" +
                                                  candidates->sql + ")" + k_find_order
                                            : std::string(k_find) + k_find_order));
    stmt.bind(1, regions).bind(2, scope.from).bind(3, scope.to);
    stmt.bind(4, filter.outcome).bind(5, filter.topic);
    if (after) {
        stmt.bind(6, after->date).bind(7, after->id);
    }
    stmt.bind(8, filter.visit);
    if (candidates) {
        int i = 9;
        for (const std::string& value : candidates->params) {
            stmt.bind(i++, value);
        }
    }
    std::string scratch;
    RecordPage page;
    RecordSummary row;
    bool more = false;
    CARAVAN_TRY_VOID(stmt.each([&](const storage::Statement& s) {
        if (!contains_folded(s.column_view(3), village, scratch)) {
            return true;
        }
        if (!text.empty() && !contains_folded(s.column_view(11), text, scratch) &&
            !contains_folded(s.column_view(12), text, scratch)) {
            return true;
        }
        if (page.rows.size() == static_cast<std::size_t>(limit)) {
            more = true;
            return false;
        }
        read_summary(s, row);
        page.rows.push_back(row);
        return true;
    }));
    if (more) {
        page.next = RecordCursor{page.rows.back().date, page.rows.back().id};
    }
    return page;
}

Result<std::optional<RecordDetail>> read_record(storage::Database& db, const std::string& id) {
    std::optional<RecordDetail> out;
    CARAVAN_TRY(found, db.query(k_read, id).first([&](const storage::Statement& s) {
        RecordDetail r;
        read_summary(s, r.summary);
        r.district = s.column_opt_text(7);
        r.gender = s.column_text(8);
        r.age = s.column_text(9);
        r.category = s.column_text(10);
        r.question = s.column_text(11);
        r.advice = s.column_text(12);
        r.follow_up = s.column_int(13) != 0;
        r.lang = s.column_opt_text(14);
        if (const auto flag = s.column_opt_int(15)) {
            r.vulnerable = *flag != 0;
        }
        out = std::move(r);
    }));
    (void)found;
    return out;
}

Result<std::vector<RecordChange>> record_history(storage::Database& db, const std::string& id) {
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    std::vector<RecordChange> out;
    CARAVAN_TRY_VOID(db.query(k_history, id, k_max_history).each([&](const storage::Statement& s) {
        RecordChange change;
        change.at_ms = Hlc{s.column_int(0)}.wall_ms();
        change.op = s.column_text(1);
        change.lawyer = s.column_text(3);
        const auto payload = nlohmann::json::parse(s.column_view(2), nullptr, false);
        const auto fields = payload.is_object() ? payload.find("fields") : payload.end();
        if (fields != payload.end() && fields->is_object()) {
            for (const FieldDef& f : entities::consultation.fields) {
                if (fields->contains(f.name)) {
                    change.fields.emplace_back(f.name);
                }
            }
        }
        out.push_back(std::move(change));
    }));
    std::reverse(out.begin(), out.end());
    return out;
}

Result<std::optional<RecordPlace>> record_place(storage::Database& db, const std::string& type,
                                                const std::string& id) {
    // Each kind reaches its village in at most two steps; an unknown kind has no place.
    static constexpr const char* k_place =
        "SELECT g.region, g.name, v.date FROM visits v JOIN villages g ON g.id = v.village_id"
        " WHERE v.id = CASE ?1"
        "  WHEN 'visit' THEN ?2"
        "  WHEN 'consultation' THEN (SELECT visit_id FROM consultations WHERE id = ?2)"
        "  WHEN 'attendance' THEN (SELECT visit_id FROM attendance WHERE id = ?2)"
        "  WHEN 'survey' THEN (SELECT visit_id FROM surveys WHERE id = ?2)"
        "  WHEN 'photo' THEN (SELECT visit_id FROM photos WHERE id = ?2) END"
        " UNION ALL SELECT region, name, NULL FROM villages WHERE ?1 = 'village' AND id = ?2"
        " UNION ALL SELECT region, NULL, NULL FROM devices WHERE ?1 = 'device' AND id = ?2";
    std::optional<RecordPlace> out;
    CARAVAN_TRY(found, db.query(k_place, type, id).first([&](const storage::Statement& s) {
        out = RecordPlace{s.column_opt_text(0), s.column_opt_text(1), s.column_opt_text(2)};
    }));
    (void)found;
    return out;
}

Result<std::optional<std::string>> record_region(storage::Database& db, const std::string& type,
                                                 const std::string& id) {
    CARAVAN_TRY(place, record_place(db, type, id));
    return place ? place->region : std::nullopt;
}

Result<std::map<std::string, std::string>> device_lawyers(storage::Database& db) {
    std::map<std::string, std::string> out;
    CARAVAN_TRY_VOID(db.query("SELECT id, lawyer FROM devices WHERE lawyer IS NOT NULL")
                         .each([&](const storage::Statement& s) {
                             out.emplace(s.column_text(0), s.column_text(1));
                         }));
    return out;
}

} // namespace caravan::client::exports
