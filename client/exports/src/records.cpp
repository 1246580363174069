#include "caravan/client/export/records.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>

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

// The list's order is (date, visit, id), each descending, where date is the visit's date and
// visit the consultation's visit_id ('' when the visit is unknown or has no date, or there is
// no visit). The walk follows it without sorting: the dated visits newest first
// (visits_by_date_id), each one's consultations by id (consultations_by_visit_id); then the
// consultations whose visit has no date here, visit by visit. A page reads its own rows and
// those that the filters skip, whatever the table holds.

// The dated visits in the list's order, with the visit filters: ?1 the region's spellings (a JSON
// list), ?2/?3 the period, ?4 one visit, ?5/?6 the outcome and topic filters (only visits where
// some consultation has them: visit_codes); after a cursor, ?7/?8 its visit's (date, id).
// Either every dated visit is walked in the order (an index), or, when one of the filters is
// held at few visits, those visits are read from visit_codes (?9/?10: that filter's field and
// value) and sorted: a filter that matches nothing reads nothing.
#define CARAVAN_VISIT_HAS(field, param)                                                            \
    " AND (" param " IS NULL OR EXISTS (SELECT 1 FROM visit_codes k WHERE k.field = '" field       \
    "' AND k.value = " param " AND k.visit_id = v.id))"
#define CARAVAN_DATED_VISITS(from)                                                                 \
    "SELECT v.id, v.date, coalesce(g.region, ''), coalesce(g.name, '') FROM " from                 \
    " LEFT JOIN villages g ON g.id = v.village_id WHERE v.date > ''"                               \
    " AND (?1 IS NULL OR g.region IN (SELECT value FROM json_each(?1)))"                           \
    " AND (?2 IS NULL OR v.date >= ?2) AND (?3 IS NULL OR v.date <= ?3)"                           \
    " AND (?4 IS NULL OR v.id = ?4)" CARAVAN_VISIT_HAS("outcome", "?5")                            \
        CARAVAN_VISIT_HAS("topic", "?6")
#define CARAVAN_DATED_ALL CARAVAN_DATED_VISITS("visits v")
#define CARAVAN_DATED_FEW                                                                          \
    CARAVAN_DATED_VISITS("visit_codes d CROSS JOIN visits v ON v.id = d.visit_id")                 \
    " AND d.field = ?9 AND d.value = ?10"
#define CARAVAN_DATED_AFTER " AND (v.date, v.id) <= (?7, ?8)"
#define CARAVAN_DATED_ORDER " ORDER BY v.date DESC, v.id DESC"
constexpr const char* k_visits = CARAVAN_DATED_ALL CARAVAN_DATED_ORDER;
constexpr const char* k_visits_after = CARAVAN_DATED_ALL CARAVAN_DATED_AFTER CARAVAN_DATED_ORDER;
constexpr const char* k_few_visits = CARAVAN_DATED_FEW CARAVAN_DATED_ORDER;
constexpr const char* k_few_visits_after =
    CARAVAN_DATED_FEW CARAVAN_DATED_AFTER CARAVAN_DATED_ORDER;
#undef CARAVAN_VISIT_HAS
#undef CARAVAN_DATED_VISITS
#undef CARAVAN_DATED_ALL
#undef CARAVAN_DATED_FEW
#undef CARAVAN_DATED_AFTER
#undef CARAVAN_DATED_ORDER

// How many visits (up to k_few_visits_max + 1) have a consultation with a field's value.
constexpr std::int64_t k_few_visits_max = 2000;
constexpr const char* k_visits_with_code =
    "SELECT count(*) FROM (SELECT 1 FROM visit_codes WHERE field = ?1 AND value = ?2 LIMIT ?3)";

// The visit ids that consultations name, from the highest down (one index step each): the
// highest, the highest up to ?1, the highest below ?1. Each has its own statement: a condition
// with OR would keep SQLite from reading max() off the index.
struct VisitIdSteps {
    const char* top;
    const char* at_most;
    const char* below;
};
constexpr VisitIdSteps k_visit_ids = {
    "SELECT max(visit_id) FROM consultations WHERE ?1 IS NULL",
    "SELECT max(visit_id) FROM consultations WHERE visit_id <= ?1",
    "SELECT max(visit_id) FROM consultations WHERE visit_id < ?1",
};
// The same among the visits whose consultations have a code (?2 field, ?3 value), '' (no visit)
// left out.
#define CARAVAN_CODE_VISITS                                                                        \
    "SELECT max(visit_id) FROM visit_codes WHERE field = ?2 AND value = ?3 AND visit_id > ''"
constexpr VisitIdSteps k_code_visit_ids = {
    CARAVAN_CODE_VISITS " AND ?1 IS NULL",
    CARAVAN_CODE_VISITS " AND visit_id <= ?1",
    CARAVAN_CODE_VISITS " AND visit_id < ?1",
};
#undef CARAVAN_CODE_VISITS

// Visit ?1's region and village when it has no date here (no row when it has one, or when the
// region is not among ?2's spellings).
constexpr const char* k_undated_visit =
    "SELECT coalesce(g.region, ''), coalesce(g.name, '') FROM (SELECT ?1 AS id) i"
    " LEFT JOIN visits v ON v.id = i.id LEFT JOIN villages g ON g.id = v.village_id"
    " WHERE coalesce(v.date, '') = ''"
    " AND (?2 IS NULL OR g.region IN (SELECT value FROM json_each(?2)))";

// One visit's consultations (?1 NULL: those of no visit), newest id first, below ?2 when set,
// with the consultation filters (?3 outcome, ?4 topic).
constexpr const char* k_visit_rows =
    "SELECT c.id, coalesce(c.lawyer, ''), coalesce(c.outcome, ''), coalesce(c.topics, '[]'),"
    " coalesce(c.question, ''), coalesce(c.advice, '') FROM consultations c"
    " WHERE c.visit_id IS ?1 AND (?2 IS NULL OR c.id < ?2) AND (?3 IS NULL OR c.outcome = ?3)"
    " AND (?4 IS NULL OR EXISTS (SELECT 1 FROM json_each(c.topics) t WHERE t.value = ?4))"
    " AND " CARAVAN_VISIBLE_SQL("c.") " ORDER BY c.id DESC";

// A word search the text index narrows reads its candidates (at most a few thousand: the
// subquery added as `c.rowid IN (...)`, its values from ?10) and sorts them in the list's order;
// ?4 outcome, ?5 topic, ?6/?7/?8 continue after a page's last (date, visit, id), ?9 one visit.
constexpr const char* k_find_candidates =
    "SELECT " CARAVAN_RECORD_COLUMNS ", coalesce(c.visit_id, '')" CARAVAN_RECORD_FROM
    " AND (?1 IS NULL OR g.region IN (SELECT value FROM json_each(?1)))"
    " AND (?2 IS NULL OR v.date >= ?2) AND (?3 IS NULL OR v.date <= ?3)"
    " AND (?4 IS NULL OR c.outcome = ?4)"
    " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(c.topics) t WHERE t.value = ?5))"
    " AND (?6 IS NULL OR (coalesce(v.date, ''), coalesce(c.visit_id, ''), c.id) < (?6, ?7, ?8))"
    " AND (?9 IS NULL OR c.visit_id = ?9)";
constexpr const char* k_find_candidates_order =
    " ORDER BY coalesce(v.date, '') DESC, coalesce(c.visit_id, '') DESC, c.id DESC";

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

// One page's reading: rows matching the filter are taken in the list's order until one more
// than the page holds shows that there is a next page.
class PageReader {
  public:
    PageReader(const RecordFilter& filter, const std::optional<RecordCursor>& after, int limit)
        : m_filter(filter), m_after(after), m_limit(static_cast<std::size_t>(limit)),
          m_village(folded(filter.village).value_or("")), m_text(folded(filter.text).value_or("")) {
    }

    [[nodiscard]] const std::string& text() const { return m_text; }
    [[nodiscard]] bool full() const { return m_more; }

    [[nodiscard]] bool village_matches(std::string_view village) {
        return contains_folded(village, m_village, m_scratch);
    }

    // Takes the row if it matches the text filter (its village already checked); false once the
    // page is full.
    bool offer(const RecordSummary& row, const std::string& visit, std::string_view question,
               std::string_view advice) {
        if (!m_text.empty() && !contains_folded(question, m_text, m_scratch) &&
            !contains_folded(advice, m_text, m_scratch)) {
            return true;
        }
        if (m_page.rows.size() == m_limit) {
            m_more = true;
            return false;
        }
        m_page.rows.push_back(row);
        m_last_visit = visit;
        return true;
    }

    // Reads one visit's consultations (`visit` nullopt: those of no visit) into the page, after
    // the cursor when the cursor is in this visit. False once the page is full.
    Result<bool> visit_rows(storage::Database& db, const std::optional<std::string>& visit,
                            const std::string& date, const std::string& region,
                            const std::string& village) {
        if (!village_matches(village)) {
            return true; // nothing of this visit can match: its rows are not read
        }
        const std::string key = visit.value_or("");
        std::optional<std::string> below;
        if (m_after && m_after->date == date && m_after->visit == key) {
            below = m_after->id;
        }
        RecordSummary row;
        row.date = date;
        row.region = region;
        row.village = village;
        CARAVAN_TRY(stmt, db.cached(k_visit_rows));
        stmt->bind(1, visit).bind(2, below).bind(3, m_filter.outcome).bind(4, m_filter.topic);
        CARAVAN_TRY_VOID(stmt->each([&](const storage::Statement& s) {
            row.id = s.column_text(0);
            row.lawyer = s.column_text(1);
            row.outcome = s.column_text(2);
            decode_text_list(s.column_view(3), row.topics);
            return offer(row, key, s.column_view(4), s.column_view(5));
        }));
        return !m_more;
    }

    RecordPage finish() && {
        if (m_more) {
            const RecordSummary& last = m_page.rows.back();
            m_page.next = RecordCursor{last.date, m_last_visit, last.id};
        }
        return std::move(m_page);
    }

  private:
    const RecordFilter& m_filter;
    const std::optional<RecordCursor>& m_after;
    std::size_t m_limit;
    std::string m_village, m_text, m_scratch, m_last_visit;
    RecordPage m_page;
    bool m_more = false;
};

// The candidates of a word search, sorted in the list's order.
Result<void> read_candidates(storage::Database& db, PageReader& reader, const RecordFilter& filter,
                             const Scope& scope, const std::optional<std::string>& regions,
                             const std::optional<RecordCursor>& after,
                             const search_index::Candidates& candidates) {
    CARAVAN_TRY(stmt, db.prepare(std::string(k_find_candidates) + " AND c.rowid IN (" +
                                 candidates.sql + ")" + k_find_candidates_order));
    stmt.bind(1, regions).bind(2, scope.from).bind(3, scope.to);
    stmt.bind(4, filter.outcome).bind(5, filter.topic);
    if (after) {
        stmt.bind(6, after->date).bind(7, after->visit).bind(8, after->id);
    }
    stmt.bind(9, filter.visit);
    int i = 10;
    for (const std::string& value : candidates.params) {
        stmt.bind(i++, value);
    }
    RecordSummary row;
    return stmt.each([&](const storage::Statement& s) {
        if (!reader.village_matches(s.column_view(3))) {
            return true;
        }
        read_summary(s, row);
        return reader.offer(row, s.column_text(16), s.column_view(11), s.column_view(12));
    });
}

// A filter on consultations' codes: (field, value) as visit_codes has them.
using Code = std::pair<std::string, std::string>;

// The filter on consultations' codes held at the fewest visits when they are few (at most
// k_few_visits_max).
Result<std::optional<Code>> rare_code(storage::Database& db, const RecordFilter& filter) {
    std::optional<Code> out;
    std::int64_t fewest = k_few_visits_max + 1;
    for (const auto& [field, value] : {std::pair{"outcome", &filter.outcome},
                                       std::pair{"topic", &filter.topic}}) {
        if (!*value) {
            continue;
        }
        CARAVAN_TRY(n, db.query(k_visits_with_code, std::string(field), **value,
                                k_few_visits_max + 1)
                           .one<std::int64_t>());
        if (n.value_or(0) < fewest) {
            fewest = n.value_or(0);
            out.emplace(field, **value);
        }
    }
    return out;
}

// The dated visits newest first, from the cursor's visit on.
Result<void> read_dated(storage::Database& db, PageReader& reader, const RecordFilter& filter,
                        const Scope& scope, const std::optional<std::string>& regions,
                        const std::optional<RecordCursor>& after, const std::optional<Code>& rare) {
    const char* sql = rare ? (after ? k_few_visits_after : k_few_visits)
                           : (after ? k_visits_after : k_visits);
    CARAVAN_TRY(stmt, db.cached(sql));
    stmt->bind(1, regions).bind(2, scope.from).bind(3, scope.to).bind(4, filter.visit);
    stmt->bind(5, filter.outcome).bind(6, filter.topic);
    if (after) {
        stmt->bind(7, after->date).bind(8, after->visit);
    }
    if (rare) {
        stmt->bind(9, rare->first).bind(10, rare->second);
    }
    Result<void> inner;
    CARAVAN_TRY_VOID(stmt->each([&](const storage::Statement& s) {
        auto more = reader.visit_rows(db, s.column_text(0), s.column_text(1), s.column_text(2),
                                      s.column_text(3));
        if (!more) {
            inner = tl::unexpected(more.error());
            return false;
        }
        return *more;
    }));
    return inner;
}

// The consultations whose visit has no date here (a visit not known here, one whose create has
// not arrived, or none), visit id by visit id from the highest down, those of no visit last.
// Only the tail of the list: reached once the dated visits are read. With a code held at few
// visits (`rare`), only the visits holding it are looked at.
Result<void> read_undated(storage::Database& db, PageReader& reader, const RecordFilter& filter,
                          const std::optional<std::string>& regions,
                          const std::optional<RecordCursor>& after, const std::optional<Code>& rare) {
    const VisitIdSteps& steps = rare ? k_code_visit_ids : k_visit_ids;
    // The highest visit id that `sql` finds from `bound`.
    const auto next = [&](const char* sql, const std::optional<std::string>& bound)
        -> Result<std::optional<std::string>> {
        CARAVAN_TRY(stmt, db.cached(sql));
        stmt->bind(1, bound);
        if (rare) {
            stmt->bind(2, rare->first).bind(3, rare->second);
        }
        return stmt->one<std::string>();
    };
    std::optional<std::string> visit;
    if (filter.visit) {
        CARAVAN_TRY(v, next(steps.at_most, filter.visit));
        visit = v == filter.visit ? v : std::nullopt;
    } else if (after && after->date.empty()) {
        CARAVAN_TRY(v, next(steps.at_most, after->visit));
        visit = std::move(v);
    } else {
        CARAVAN_TRY(v, next(steps.top, std::nullopt));
        visit = std::move(v);
    }
    while (visit) {
        std::optional<std::pair<std::string, std::string>> place;
        CARAVAN_TRY(
            found,
            db.query(k_undated_visit, *visit, regions).first([&](const storage::Statement& s) {
                place.emplace(s.column_text(0), s.column_text(1));
            }));
        if (found) {
            CARAVAN_TRY(more, reader.visit_rows(db, visit, "", place->first, place->second));
            if (!more) {
                return {};
            }
        }
        if (filter.visit) {
            return {};
        }
        CARAVAN_TRY(v, next(steps.below, visit));
        visit = std::move(v);
    }
    // No visit: no region, so never in a region's search; after every visit id in the order.
    if (!regions && !filter.visit) {
        CARAVAN_TRY(more, reader.visit_rows(db, std::nullopt, "", "", ""));
        (void)more;
    }
    return {};
}

} // namespace

Result<RecordPage> find_records(storage::Database& db, const RecordFilter& filter,
                                std::optional<RecordCursor> after, int limit) {
    limit = std::clamp(limit, 1, k_max_limit);
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    // A dated cursor without its visit (a link made before cursors carried it) continues after
    // its consultation's visit, as the page that made it did.
    if (after && !after->date.empty() && after->visit.empty()) {
        CARAVAN_TRY(visit, db.query("SELECT visit_id FROM consultations WHERE id = ?", after->id)
                               .one<std::string>());
        after->visit = visit.value_or("");
    }
    CARAVAN_TRY(scope, resolve_scope(db, filter.scope));
    CARAVAN_TRY(regions, region_spellings(db, scope.region));
    PageReader reader(filter, after, limit);
    // Words that few consultations hold are looked up in the text index: it names the rows
    // that may hold them, which are then sorted and checked as every row is. Words that many
    // hold (or one or two letters) are found soon enough by reading rows in order.
    CARAVAN_TRY(candidates, search_index::candidates(db, reader.text()));
    if (candidates) {
        CARAVAN_TRY_VOID(read_candidates(db, reader, filter, scope, regions, after, *candidates));
        return std::move(reader).finish();
    }
    CARAVAN_TRY(rare, rare_code(db, filter));
    // The cursor's date is '' once the dated visits are behind it.
    if (!after || !after->date.empty()) {
        CARAVAN_TRY_VOID(read_dated(db, reader, filter, scope, regions, after, rare));
    }
    // Rows without a date fall outside any period.
    if (!reader.full() && !scope.from && !scope.to) {
        CARAVAN_TRY_VOID(read_undated(db, reader, filter, regions, after, rare));
    }
    return std::move(reader).finish();
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

// The visit of record ?2 of kind ?1 (NULL for a kind without one): each kind reaches its visit
// in at most one step.
#define CARAVAN_VISIT_OF_RECORD(type, id)                                                          \
    "CASE " type " WHEN 'visit' THEN " id                                                          \
    " WHEN 'consultation' THEN (SELECT visit_id FROM consultations WHERE id = " id ")"             \
    " WHEN 'attendance' THEN (SELECT visit_id FROM attendance WHERE id = " id ")"                  \
    " WHEN 'survey' THEN (SELECT visit_id FROM surveys WHERE id = " id ")"                         \
    " WHEN 'photo' THEN (SELECT visit_id FROM photos WHERE id = " id ") END"

Result<std::optional<RecordPlace>> record_place(storage::Database& db, const std::string& type,
                                                const std::string& id) {
    // An unknown kind has no place.
    static constexpr const char* k_place =
        "SELECT g.region, g.name, v.date FROM visits v JOIN villages g ON g.id = v.village_id"
        " WHERE v.id = " CARAVAN_VISIT_OF_RECORD("?1",
                                                 "?2") " UNION ALL SELECT region, name, NULL FROM "
                                                       "villages WHERE ?1 = 'village' AND id = ?2"
                                                       " UNION ALL SELECT region, NULL, NULL FROM "
                                                       "devices WHERE ?1 = 'device' AND id = ?2";
    std::optional<RecordPlace> out;
    CARAVAN_TRY(found, db.query(k_place, type, id).first([&](const storage::Statement& s) {
        out = RecordPlace{s.column_opt_text(0), s.column_opt_text(1), s.column_opt_text(2)};
    }));
    (void)found;
    return out;
}

// The conflicts table with each record's region as record_place finds it (?1: the regions'
// spellings to keep, a JSON list; NULL: all), compared by the list's key (?2..?6).
#define CARAVAN_CONFLICTS                                                                          \
    "WITH k AS (SELECT c.entity_type, c.entity_id, c.field, c.a_version, c.a_value, c.b_version,"  \
    " c.b_value, CASE c.entity_type"                                                               \
    " WHEN 'village' THEN (SELECT region FROM villages WHERE id = c.entity_id)"                    \
    " WHEN 'device' THEN (SELECT region FROM devices WHERE id = c.entity_id)"                      \
    " ELSE (SELECT g.region FROM visits v JOIN villages g ON g.id = v.village_id"                  \
    " WHERE v.id = " CARAVAN_VISIT_OF_RECORD("c.entity_type",                                      \
                                             "c.entity_id") ") END AS region"                      \
                                                            " FROM conflicts c) SELECT "
#define CARAVAN_CONFLICTS_IN_SCOPE                                                                 \
    " FROM k WHERE (?1 IS NULL OR region IN (SELECT value FROM json_each(?1)))"
#define CARAVAN_CONFLICT_KEY "(entity_type, entity_id, field, a_version, b_version)"
#define CARAVAN_CONFLICT_COLUMNS                                                                   \
    "entity_type, entity_id, field, a_version, a_value, b_version, b_value"

Result<ConflictPage> find_conflicts(storage::Database& db,
                                    const std::function<bool(const std::string&)>& sees,
                                    const std::optional<ConflictKey>& after,
                                    const std::optional<ConflictKey>& before, int limit) {
    // The account's conflicts, and how many of them come before key ?2..?6 (?7: that key's
    // own row counted too), in one pass.
    static constexpr const char* k_count =
        CARAVAN_CONFLICTS "count(*), coalesce(sum(CASE WHEN ?7 THEN " CARAVAN_CONFLICT_KEY
                          " <= (?2, ?3, ?4, ?5, ?6) ELSE " CARAVAN_CONFLICT_KEY
                          " < (?2, ?3, ?4, ?5, ?6) END), 0)" CARAVAN_CONFLICTS_IN_SCOPE;
    static constexpr const char* k_forward =
        CARAVAN_CONFLICTS CARAVAN_CONFLICT_COLUMNS CARAVAN_CONFLICTS_IN_SCOPE
        " AND (?2 IS NULL OR " CARAVAN_CONFLICT_KEY " > (?2, ?3, ?4, ?5, ?6))"
        " ORDER BY entity_type, entity_id, field, a_version, b_version LIMIT ?7";
    static constexpr const char* k_backward =
        CARAVAN_CONFLICTS CARAVAN_CONFLICT_COLUMNS CARAVAN_CONFLICTS_IN_SCOPE
        " AND " CARAVAN_CONFLICT_KEY " < (?2, ?3, ?4, ?5, ?6)"
        " ORDER BY entity_type DESC, entity_id DESC, field DESC, a_version DESC, b_version DESC"
        " LIMIT ?7";
    limit = std::clamp(limit, 1, k_max_limit);
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    // The spellings of the regions the account sees, among those records use.
    std::optional<std::string> regions;
    if (sees) {
        nlohmann::json list = nlohmann::json::array();
        CARAVAN_TRY_VOID(db.query("SELECT region FROM villages WHERE region IS NOT NULL UNION"
                                  " SELECT region FROM devices WHERE region IS NOT NULL")
                             .each([&](const storage::Statement& s) {
                                 std::string region = s.column_text(0);
                                 if (sees(region)) {
                                     list.push_back(std::move(region));
                                 }
                             }));
        regions = list.dump();
    }
    const auto bind_key = [](storage::Statement& s, const std::optional<ConflictKey>& key) {
        for (int i = 0; i < 5; ++i) {
            s.bind(2 + i, key ? std::optional((*key)[static_cast<std::size_t>(i)]) : std::nullopt);
        }
    };
    ConflictPage page;
    std::int64_t ahead = 0; // before the bound (after: up to it)
    {
        CARAVAN_TRY(count, db.cached(k_count));
        count->bind(1, regions);
        bind_key(*count, before ? before : after);
        count->bind(7, !before);
        CARAVAN_TRY_VOID(count->first([&](const storage::Statement& s) {
            page.total = s.column_int(0);
            ahead = s.column_int(1);
        }));
    }
    CARAVAN_TRY(stmt, db.cached(before ? k_backward : k_forward));
    stmt->bind(1, regions);
    bind_key(*stmt, before ? before : after);
    stmt->bind(7, limit);
    CARAVAN_TRY_VOID(stmt->each([&](const storage::Statement& s) {
        ConflictRow row;
        row.entry.entity_type = s.column_text(0);
        row.entry.entity_id = s.column_text(1);
        row.entry.field = s.column_text(2);
        row.entry.a_version = s.column_text(3);
        row.entry.a_value = s.column_text(4);
        row.entry.b_version = s.column_text(5);
        row.entry.b_value = s.column_text(6);
        page.rows.push_back(std::move(row));
    }));
    if (before) {
        std::reverse(page.rows.begin(), page.rows.end());
    }
    // After: the rows follow those up to the bound; before: they are the last before it.
    page.offset = before ? ahead - static_cast<std::int64_t>(page.rows.size()) : ahead;
    for (ConflictRow& row : page.rows) {
        ConflictEntry& c = row.entry;
        CARAVAN_TRY(place, record_place(db, c.entity_type, c.entity_id));
        row.place = std::move(place);
        const EntityDef* def = find_entity(c.entity_type);
        if (def && c.delete_vs_edit()) {
            // The table's name is the program's own (entities.cpp), never a value.
            CARAVAN_TRY(deleted, db.query("SELECT coalesce(deleted, 0) FROM " +
                                              std::string(def->table) + " WHERE id = ?",
                                          c.entity_id)
                                     .one<std::int64_t>());
            c.record_deleted = deleted.value_or(0) != 0;
        }
    }
    return page;
}
#undef CARAVAN_CONFLICTS
#undef CARAVAN_CONFLICTS_IN_SCOPE
#undef CARAVAN_CONFLICT_KEY
#undef CARAVAN_CONFLICT_COLUMNS
#undef CARAVAN_VISIT_OF_RECORD

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
