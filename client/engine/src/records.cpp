// Villages, visits and the records taken at a visit: validation, events, queries.

#include <algorithm>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/new_record.hpp"
#include "caravan/client/projection.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/text.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

using nlohmann::json;
using storage::Statement;

namespace {

std::string village_key(std::string_view region, std::string_view name) {
    return fold_case(normalize_space(region)) + "\n" + fold_case(normalize_space(name));
}

Result<Person> validate_person(const PersonInput& in) {
    Person p;
    auto gender = enums::gender.parse(in.gender);
    if (!gender) {
        return tl::unexpected(gender.error());
    }
    auto age = enums::age.parse(in.age);
    if (!age) {
        return tl::unexpected(age.error());
    }
    auto category = enums::category.parse(in.category);
    if (!category) {
        return tl::unexpected(category.error());
    }
    return Person{*gender, *age, *category, in.vulnerable};
}

Result<std::vector<std::string>> validate_topics(const std::vector<std::string>& in) {
    if (in.empty()) {
        return fail(ErrorCode::invalid_input, msg::topic_required, enums::topic.allowed());
    }
    std::vector<std::string> topics;
    for (const std::string& t : in) {
        auto code = enums::topic.parse(t);
        if (!code) {
            return tl::unexpected(code.error());
        }
        if (std::find(topics.begin(), topics.end(), *code) == topics.end()) {
            topics.push_back(*code);
        }
    }
    return topics;
}

NewRecord& set_person(NewRecord& fields, const Person& p) {
    return fields.set("gender", std::string_view(p.gender))
        .set("age", std::string_view(p.age))
        .set("category", std::string_view(p.category))
        .set("vulnerable", or_null(p.vulnerable));
}

NewRecord visit_fields(const Visit& visit) {
    NewRecord fields(entities::visit);
    fields.set("village_id", std::string_view(visit.village_id))
        .set("date", std::string_view(visit.date))
        .set("lawyer", std::string_view(visit.lawyer))
        .set("closed", visit.closed)
        .set("deleted", false);
    return fields;
}

const char* k_visible = CARAVAN_VISIBLE_SQL("");

std::string visit_select(std::string_view where) {
    return "SELECT v.id, v.village_id, coalesce(g.name, ''), coalesce(g.region, ''), v.date,"
           " v.lawyer, coalesce(v.closed, 0) FROM visits v LEFT JOIN villages g ON g.id ="
           " v.village_id WHERE " CARAVAN_VISIBLE_SQL("v.") " " +
           std::string(where);
}

Visit read_visit(const Statement& s) {
    return Visit{s.column_text(0), s.column_text(1), s.column_text(2), s.column_text(3),
                 s.column_text(4), s.column_text(5), s.column_int(6) != 0};
}

#define CARAVAN_CONSULTATION_COLUMNS                                                               \
    "SELECT c.id, c.visit_id, coalesce(v.date, ''), coalesce(g.name, ''),"                         \
    " coalesce(g.region, ''), c.lawyer, c.gender, c.age, c.category,"                              \
    " c.vulnerable, c.topics, c.outcome, coalesce(c.question, ''),"                   \
    " coalesce(c.advice, ''), coalesce(c.follow_up, 0), c.lang"
// Columns of read_consultation that a text search looks in.
constexpr int k_village_column = 3, k_question_column = 12, k_advice_column = 13;

const std::string& consultation_select() {
    static const std::string sql = CARAVAN_CONSULTATION_COLUMNS
        " FROM consultations c LEFT JOIN visits v ON v.id = c.visit_id"
        " LEFT JOIN villages g ON g.id = v.village_id"
        " WHERE " CARAVAN_VISIBLE_SQL("c.") " ";
    return sql;
}

// Newest first: the visits by date from the latest back (visits_by_date_id), each one's
// consultations (consultations_by_visit_id), so that a reader who stops early reads little. The
// CROSS JOIN keeps SQLite from choosing the other order. Consultations of visits not known here
// come from the second query, after these.
const std::string& consultation_select_by_visit() {
    static const std::string sql = CARAVAN_CONSULTATION_COLUMNS
        " FROM visits v CROSS JOIN consultations c ON c.visit_id = v.id"
        " LEFT JOIN villages g ON g.id = v.village_id"
        " WHERE " CARAVAN_VISIBLE_SQL("c.") " ";
    return sql;
}
const std::string& consultation_select_without_visit() {
    static const std::string sql = CARAVAN_CONSULTATION_COLUMNS
        " FROM consultations c LEFT JOIN visits v ON 0 LEFT JOIN villages g ON 0"
        " WHERE " CARAVAN_VISIBLE_SQL("c.")
        " AND NOT EXISTS (SELECT 1 FROM visits w WHERE w.id = c.visit_id)"
        " ORDER BY c.id DESC";
    return sql;
}
#undef CARAVAN_CONSULTATION_COLUMNS

Consultation read_consultation(const Statement& s) {
    Consultation c;
    c.id = s.column_text(0);
    c.visit_id = s.column_text(1);
    c.date = s.column_text(2);
    c.village = s.column_text(3);
    c.region = s.column_text(4);
    c.lawyer = s.column_text(5);
    c.person = Person{s.column_text(6), s.column_text(7), s.column_text(8), {}};
    if (auto flag = s.column_opt_int(9)) {
        c.person.vulnerable = *flag != 0; // NULL: not recorded
    }
    decode_text_list(s.column_text(10), c.topics);
    c.outcome = s.column_text(11);
    c.question = s.column_text(12);
    c.advice = s.column_text(13);
    c.follow_up = s.column_int(14) != 0;
    c.lang = s.column_opt_text(15);
    return c;
}

template <class T, class Read>
Result<std::vector<T>> collect(storage::Database& db, const std::string& sql, Read read,
                               const std::vector<std::string>& params = {}) {
    // Cached: these SQL texts are a fixed set, and preparing one costs more than running it
    // (a consultation added at a visit runs several). Each use runs to the end and is reset, so
    // no statement stays active between calls.
    CARAVAN_TRY(stmt, db.cached(sql));
    int i = 1;
    for (const std::string& p : params) {
        stmt->bind(i++, p);
    }
    std::vector<T> out;
    CARAVAN_TRY_VOID(stmt->each([&](const Statement& row) { out.push_back(read(row)); }));
    return out;
}

Result<std::int64_t> scalar(storage::Database& db, const std::string& sql,
                            const std::vector<std::string>& params = {}) {
    auto rows = collect<std::int64_t>(
        db, sql, [](const Statement& s) { return s.column_int(0); }, params);
    if (!rows) {
        return tl::unexpected(rows.error());
    }
    return rows->empty() ? 0 : rows->front();
}

bool looks_like_id_fragment(std::string_view ref) {
    if (ref.size() < 4 || ref.size() > 36) {
        return false;
    }
    return std::all_of(ref.begin(), ref.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
    });
}

} // namespace

// ---- references --------------------------------------------------------------------------

Result<std::string> Engine::resolve_id(std::string_view table, std::string_view ref,
                                       std::string_view what) {
    std::string r = normalize_space(ref);
    if (!looks_like_id_fragment(r)) {
        return fail(ErrorCode::invalid_input, msg::id_fragment_needed, msg::field(what));
    }
    if (is_uuid(r)) {
        // A whole id (the usual case for programs and bulk imports): one indexed lookup instead
        // of the fragment scan below, which would return the same single row.
        CARAVAN_TRY(found, m_db.query("SELECT id FROM " + std::string(table) +
                                          " WHERE id = ? AND " + k_visible,
                                      r)
                               .one<std::string>());
        if (found) {
            return r;
        }
    }
    auto ids = collect<std::string>(
        m_db,
        "SELECT id FROM " + std::string(table) + " WHERE " + k_visible +
            " AND (id = ?1 OR instr(id, ?1) > 0) ORDER BY id = ?1 DESC LIMIT 6",
        [](const Statement& s) { return s.column_text(0); }, {r});
    if (!ids) {
        return tl::unexpected(ids.error());
    }
    if (ids->empty()) {
        return fail(ErrorCode::not_found,
                    what == "visit" ? msg::visit_not_found : msg::consultation_not_found, r);
    }
    if (ids->size() > 1 && ids->front() != r) {
        std::string list;
        for (const auto& id : *ids) {
            list += (list.empty() ? "" : ", ") + short_id(id);
        }
        return fail(ErrorCode::ambiguous, msg::id_ambiguous, msg::field(what), r, list);
    }
    return ids->front();
}

// ---- villages ----------------------------------------------------------------------------

Result<std::string> Engine::find_region(std::string_view ref) {
    auto region = validate_text("region", ref, k_max_name_chars);
    if (!region) {
        return tl::unexpected(region.error());
    }
    auto known = collect<std::string>(
        m_db,
        "SELECT region FROM villages WHERE region IS NOT NULL UNION "
        "SELECT region FROM devices WHERE region IS NOT NULL",
        [](const Statement& s) { return s.column_text(0); });
    if (!known) {
        return tl::unexpected(known.error());
    }
    std::string folded = fold_case(*region);
    for (const std::string& k : *known) {
        if (fold_case(k) == folded) {
            return k;
        }
    }
    return fail(ErrorCode::not_found, msg::region_unknown, [&]() -> MessageArg {
        std::string list;
        for (const auto& k : *known) {
            list += (list.empty() ? "" : "; ") + k;
        }
        if (list.empty()) {
            return msg::word_none;
        }
        return list;
    }());
}

Result<Village> Engine::add_village(const VillageInput& input) {
    auto name = validate_text("name", input.name, k_max_name_chars);
    if (!name) {
        return tl::unexpected(name.error());
    }
    auto region = validate_text("region", input.region, k_max_name_chars);
    if (!region) {
        return tl::unexpected(region.error());
    }
    std::optional<std::string> district;
    if (input.district) {
        auto d = validate_text("district", *input.district, k_max_name_chars);
        if (!d) {
            return tl::unexpected(d.error());
        }
        district = *d;
    }
    if (input.lat.has_value() != input.lon.has_value()) {
        return fail(ErrorCode::invalid_input, msg::lat_lon_pair);
    }
    if (input.lat) {
        if (auto ok = validate_coordinate("lat", *input.lat, 90); !ok) {
            return tl::unexpected(ok.error());
        }
        if (auto ok = validate_coordinate("lon", *input.lon, 180); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    // Reuse the spelling of a region already known, so "жамбыл обл." joins "Жамбыл обл.".
    if (auto known = find_region(*region)) {
        region = *known;
    }
    if (auto in = require_in_scope(*region); !in) {
        return tl::unexpected(in.error());
    }
    Village village{uuid_from_key("village", village_key(*region, *name)), *name, *region,
                    district, input.lat, input.lon};
    auto ok = write([&]() -> Result<void> {
        auto exists = scalar(m_db, std::string("SELECT count(*) FROM villages WHERE id = ? AND ") +
                                       k_visible,
                             {village.id});
        if (!exists) {
            return tl::unexpected(exists.error());
        }
        if (*exists) {
            return fail(ErrorCode::conflict, msg::village_exists, village.region,
                        short_id(village.id));
        }
        NewRecord fields(entities::village);
        fields.set("name", std::string_view(village.name))
            .set("region", std::string_view(village.region))
            .set("district", or_null(village.district))
            .set("lat", or_null(village.lat))
            .set("lon", or_null(village.lon))
            .set("deleted", false);
        auto event = record(fields, village.id);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return village;
}

Result<std::vector<Village>> Engine::list_villages(const std::optional<std::string>& region) {
    std::string sql = std::string("SELECT id, name, region, district, lat, lon FROM villages WHERE ") +
                      k_visible;
    std::vector<std::string> params;
    if (region) {
        auto canonical = find_region(*region);
        if (!canonical) {
            return tl::unexpected(canonical.error());
        }
        sql += " AND region = ?";
        params.push_back(*canonical);
    }
    sql += " ORDER BY region, name";
    return collect<Village>(
        m_db, sql,
        [](const Statement& s) {
            return Village{s.column_text(0),     s.column_text(1),       s.column_text(2),
                           s.column_opt_text(3), s.column_opt_double(4), s.column_opt_double(5)};
        },
        params);
}

Result<Village> Engine::find_village(std::string_view ref) {
    auto all = list_villages();
    if (!all) {
        return tl::unexpected(all.error());
    }
    std::string r = normalize_space(ref);
    if (r.empty()) {
        return fail(ErrorCode::invalid_input, msg::village_required);
    }
    std::string folded = fold_case(r);
    std::vector<const Village*> exact, prefix, by_id;
    for (const Village& v : *all) {
        std::string name = fold_case(v.name);
        if (name == folded || v.id == r) {
            exact.push_back(&v);
        } else if (name.starts_with(folded)) {
            prefix.push_back(&v);
        } else if (looks_like_id_fragment(r) && v.id.find(r) != std::string::npos) {
            by_id.push_back(&v);
        }
    }
    for (auto* candidates : {&exact, &prefix, &by_id}) {
        if (candidates->size() == 1) {
            return *candidates->front();
        }
        if (candidates->size() > 1) {
            std::string list;
            for (const Village* v : *candidates) {
                list += (list.empty() ? "" : "; ") + v->name + " (" + v->region + ", " +
                        short_id(v->id) + ")";
            }
            return fail(ErrorCode::ambiguous, msg::village_ambiguous, list);
        }
    }
    return fail(ErrorCode::not_found, msg::village_unknown);
}

// ---- visits ------------------------------------------------------------------------------

Result<Visit> Engine::load_visit(const std::string& id) {
    auto rows = collect<Visit>(m_db, visit_select("AND v.id = ?"), read_visit, {id});
    if (!rows) {
        return tl::unexpected(rows.error());
    }
    if (rows->empty()) {
        return fail(ErrorCode::not_found, msg::visit_not_found, short_id(id));
    }
    return rows->front();
}

Result<std::optional<Visit>> Engine::current_visit() {
    if (m_write && m_current_visit) {
        return *m_current_visit;
    }
    auto id = m_settings.get(key::current_visit);
    if (!id) {
        return tl::unexpected(id.error());
    }
    if (!*id) {
        return std::optional<Visit>();
    }
    auto visit = load_visit(**id);
    std::optional<Visit> current;
    if (visit) {
        current = std::move(*visit);
    } // else deleted elsewhere
    if (m_write) {
        m_current_visit = current;
    }
    return current;
}

Result<Visit> Engine::find_visit(std::string_view ref) {
    std::string r = normalize_space(ref);
    if (r == "current") {
        auto current = current_visit();
        if (!current) {
            return tl::unexpected(current.error());
        }
        if (!*current) {
            return fail(ErrorCode::invalid_input, msg::no_current_visit);
        }
        return **current;
    }
    if (looks_like_id_fragment(r)) {
        auto id = resolve_id("visits", r, "visit");
        if (id) {
            return load_visit(*id);
        }
        if (id.error().code != ErrorCode::not_found) {
            return tl::unexpected(id.error());
        }
    }
    auto village = find_village(r);
    if (!village) {
        return fail(village.error().code, msg::visit_ref_unknown, village.error());
    }
    auto visits = collect<Visit>(m_db, visit_select("AND v.village_id = ? ORDER BY v.date DESC"),
                                 read_visit, {village->id});
    if (!visits) {
        return tl::unexpected(visits.error());
    }
    std::vector<Visit> open;
    std::copy_if(visits->begin(), visits->end(), std::back_inserter(open),
                 [](const Visit& v) { return !v.closed; });
    if (visits->size() == 1) {
        return visits->front();
    }
    if (open.size() == 1) {
        return open.front();
    }
    if (visits->empty()) {
        return fail(ErrorCode::not_found, msg::no_visit_to, village->name);
    }
    std::string list;
    for (const Visit& v : *visits) {
        list += (list.empty() ? "" : ", ") + v.date + " (" + short_id(v.id) + ")";
    }
    return fail(ErrorCode::ambiguous, msg::visits_ambiguous, village->name, list);
}

Result<std::vector<Visit>> Engine::list_visits() {
    return collect<Visit>(m_db, visit_select("ORDER BY v.date, v.id"), read_visit);
}

Result<Visit> Engine::visit_for(const std::optional<std::string>& ref) {
    auto visit = find_visit(ref ? *ref : std::string("current"));
    if (!visit) {
        return visit;
    }
    // Also a visit opened before this check existed, or before the device was enrolled.
    if (auto in = require_in_scope(visit->region, visit->id); !in) {
        return tl::unexpected(in.error());
    }
    return visit;
}

Result<Visit> Engine::start_visit(std::string_view village_ref,
                                  const std::optional<std::string>& date_in) {
    auto device = require_device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    auto village = find_village(village_ref);
    if (!village) {
        return tl::unexpected(village.error());
    }
    if (auto in = require_in_scope(village->region); !in) {
        return tl::unexpected(in.error());
    }
    std::string date = date_in ? *date_in : today();
    if (auto ok = validate_event_date("date", date); !ok) {
        return tl::unexpected(ok.error());
    }
    Visit visit{uuid_v7(m_options.clock()), village->id, village->name, village->region, date,
                device->lawyer, false};
    auto ok = write([&]() -> Result<void> {
        auto event = record(visit_fields(visit), visit.id);
        if (!event) {
            return tl::unexpected(event.error());
        }
        m_current_visit.reset();
        return m_settings.set(key::current_visit, visit.id);
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return visit;
}

Result<Visit> Engine::add_past_visit(const std::string& id, const std::string& village_id,
                                     const std::string& date, const std::string& lawyer_in) {
    if (!is_uuid(id)) {
        return fail(ErrorCode::invalid_input, msg::id_not_uuid);
    }
    if (auto ok = validate_event_date("date", date); !ok) {
        return tl::unexpected(ok.error());
    }
    auto lawyer = validate_text("lawyer", lawyer_in, k_max_name_chars);
    if (!lawyer) {
        return tl::unexpected(lawyer.error());
    }
    auto villages = collect<std::pair<std::string, std::string>>(
        m_db, std::string("SELECT name, region FROM villages WHERE id = ? AND ") + k_visible,
        [](const Statement& s) { return std::pair{s.column_text(0), s.column_text(1)}; },
        {village_id});
    if (!villages) {
        return tl::unexpected(villages.error());
    }
    if (villages->empty()) {
        return fail(ErrorCode::not_found, msg::village_not_found, short_id(village_id));
    }
    if (auto in = require_in_scope(villages->front().second); !in) {
        return tl::unexpected(in.error());
    }
    Visit visit{id, village_id, villages->front().first, villages->front().second, date, *lawyer,
                true};
    auto ok = write([&]() -> Result<void> {
        auto exists = scalar(m_db, std::string("SELECT count(*) FROM visits WHERE id = ? AND ") +
                                       k_visible,
                             {id});
        if (!exists) {
            return tl::unexpected(exists.error());
        }
        if (*exists) {
            return fail(ErrorCode::conflict, msg::visit_exists, short_id(id));
        }
        auto event = record(visit_fields(visit), visit.id);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return visit;
}

Result<Visit> Engine::close_visit(const std::optional<std::string>& ref) {
    auto visit = visit_for(ref);
    if (!visit) {
        return tl::unexpected(visit.error());
    }
    if (visit->closed) {
        return fail(ErrorCode::conflict, msg::visit_closed, short_id(visit->id));
    }
    auto ok = write([&]() -> Result<void> {
        auto versions = m_projector.field_versions(entities::visit, visit->id);
        if (!versions) {
            return tl::unexpected(versions.error());
        }
        json base = {{"closed", (*versions)["closed"]}, {"deleted", (*versions)["deleted"]}};
        auto event = record(entities::visit, visit->id, k_op_update, {{"closed", true}}, base);
        if (!event) {
            return tl::unexpected(event.error());
        }
        auto current = m_settings.get(key::current_visit);
        if (!current) {
            return tl::unexpected(current.error());
        }
        if (*current && **current == visit->id) {
            m_current_visit.reset();
            return m_settings.erase(key::current_visit);
        }
        return {};
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    visit->closed = true;
    return *visit;
}

// ---- attendance, surveys -------------------------------------------------------------------

Result<Attendance> Engine::add_attendance(const AttendanceInput& input) {
    auto person = validate_person(input.person);
    if (!person) {
        return tl::unexpected(person.error());
    }
    if (input.count < 1 || input.count > 100000) {
        return fail(ErrorCode::invalid_input, msg::count_between, msg::field_count, 1, 100000);
    }
    auto visit = visit_for(input.visit);
    if (!visit) {
        return tl::unexpected(visit.error());
    }
    Attendance a{uuid_v7(m_options.clock()), visit->id, *person, input.count};
    auto ok = write([&]() -> Result<void> {
        NewRecord fields(entities::attendance);
        set_person(fields, a.person)
            .set("visit_id", std::string_view(a.visit_id))
            .set("count", static_cast<std::int64_t>(a.count))
            .set("deleted", false);
        auto event = record(fields, a.id);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return a;
}

Result<Survey> Engine::add_survey(const SurveyInput& input) {
    if (input.respondents < 1 || input.respondents > 100000) {
        return fail(ErrorCode::invalid_input, msg::count_between, msg::field_respondents, 1,
                    100000);
    }
    if (input.satisfied < 0 || input.satisfied > input.respondents) {
        return fail(ErrorCode::invalid_input, msg::satisfied_range);
    }
    auto visit = visit_for(input.visit);
    if (!visit) {
        return tl::unexpected(visit.error());
    }
    Survey s{uuid_v7(m_options.clock()), visit->id, input.respondents, input.satisfied};
    auto ok = write([&]() -> Result<void> {
        NewRecord fields(entities::survey);
        fields.set("visit_id", std::string_view(s.visit_id))
            .set("respondents", static_cast<std::int64_t>(s.respondents))
            .set("satisfied", static_cast<std::int64_t>(s.satisfied))
            .set("deleted", false);
        auto event = record(fields, s.id);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return s;
}

// ---- consultations -----------------------------------------------------------------------

Result<Consultation> Engine::load_consultation(const std::string& id) {
    auto rows = collect<Consultation>(m_db, consultation_select() + "AND c.id = ?",
                                      read_consultation, {id});
    if (!rows) {
        return tl::unexpected(rows.error());
    }
    if (rows->empty()) {
        return fail(ErrorCode::not_found, msg::consultation_not_found, short_id(id));
    }
    return rows->front();
}

Result<Consultation> Engine::find_consultation(std::string_view ref) {
    auto id = resolve_id("consultations", ref, "consultation");
    if (!id) {
        return tl::unexpected(id.error());
    }
    return load_consultation(*id);
}

Result<bool> Engine::has_consultation(std::string_view id) {
    CARAVAN_TRY(found,
                m_db.query("SELECT 1 FROM consultations WHERE id = ?", id).one<std::int64_t>());
    return found.has_value();
}

Result<Consultation> Engine::add_consultation(const ConsultationInput& input) {
    auto device = require_device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    auto person = validate_person(input.person);
    if (!person) {
        return tl::unexpected(person.error());
    }
    auto topics = validate_topics(input.topics);
    if (!topics) {
        return tl::unexpected(topics.error());
    }
    auto outcome = enums::outcome.parse(input.outcome);
    if (!outcome) {
        return tl::unexpected(outcome.error());
    }
    auto question = validate_note("question", input.question, k_max_note_chars, false);
    if (!question) {
        return tl::unexpected(question.error());
    }
    auto advice = validate_note("advice", input.advice, k_max_note_chars, false);
    if (!advice) {
        return tl::unexpected(advice.error());
    }
    std::optional<std::string> lang;
    if (input.lang) {
        auto l = enums::language.parse(*input.lang);
        if (!l) {
            return tl::unexpected(l.error());
        }
        lang = *l;
    }
    std::string lawyer;
    if (input.lawyer) {
        auto l = validate_text("lawyer", *input.lawyer, k_max_name_chars);
        if (!l) {
            return tl::unexpected(l.error());
        }
        lawyer = std::move(*l);
    } else {
        lawyer = std::move(device->lawyer);
    }
    if (input.id && !is_uuid(*input.id)) {
        return fail(ErrorCode::invalid_input, msg::id_not_uuid);
    }
    auto visit = visit_for(input.visit);
    if (!visit) {
        return tl::unexpected(visit.error());
    }
    Consultation c;
    c.id = input.id ? *input.id : uuid_v7(m_options.clock());
    c.visit_id = std::move(visit->id);
    c.date = std::move(visit->date);
    c.village = std::move(visit->village);
    c.region = std::move(visit->region);
    c.lawyer = std::move(lawyer);
    c.person = std::move(*person);
    c.topics = std::move(*topics);
    c.outcome = std::move(*outcome);
    c.question = std::move(*question);
    c.advice = std::move(*advice);
    c.follow_up = input.follow_up;
    c.lang = std::move(lang);
    auto ok = write([&]() -> Result<void> {
        auto note = [](const std::string& text) {
            return text.empty() ? NewRecord::Value(nullptr) : NewRecord::Value(std::string_view(text));
        };
        NewRecord fields(entities::consultation);
        set_person(fields, c.person)
            .set("visit_id", std::string_view(c.visit_id))
            .set("lawyer", std::string_view(c.lawyer))
            .set("topics", std::span<const std::string>(c.topics))
            .set("outcome", std::string_view(c.outcome))
            .set("question", note(c.question))
            .set("advice", note(c.advice))
            .set("follow_up", c.follow_up)
            .set("lang", or_null(c.lang))
            .set("deleted", false);
        auto event = record(fields, c.id);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return c;
}

Result<Consultation> Engine::edit_consultation(std::string_view ref,
                                               const ConsultationPatch& patch) {
    if (patch.empty()) {
        return fail(ErrorCode::invalid_input, msg::nothing_to_change);
    }
    auto current = find_consultation(ref);
    if (!current) {
        return tl::unexpected(current.error());
    }
    if (auto in = require_in_scope(current->region, current->visit_id); !in) {
        return tl::unexpected(in.error());
    }
    json fields = json::object();
    auto set_enum = [&](const std::optional<std::string>& in, const Enumeration& e,
                        std::string_view name, const std::string& old) -> Result<void> {
        if (!in) {
            return {};
        }
        auto code = e.parse(*in);
        if (!code) {
            return tl::unexpected(code.error());
        }
        if (*code != old) {
            fields[std::string(name)] = *code;
        }
        return {};
    };
    for (auto ok : {set_enum(patch.gender, enums::gender, "gender", current->person.gender),
                    set_enum(patch.age, enums::age, "age", current->person.age),
                    set_enum(patch.category, enums::category, "category",
                             current->person.category),
                    set_enum(patch.outcome, enums::outcome, "outcome", current->outcome),
                    set_enum(patch.lang, enums::language, "lang", current->lang.value_or(""))}) {
        if (!ok) {
            return tl::unexpected(ok.error());
        }
    }
    if (patch.topics) {
        auto topics = validate_topics(*patch.topics);
        if (!topics) {
            return tl::unexpected(topics.error());
        }
        if (*topics != current->topics) {
            fields["topics"] = *topics;
        }
    }
    auto set_note = [&](const std::optional<std::string>& in, std::string_view name,
                        const std::string& old) -> Result<void> {
        if (!in) {
            return {};
        }
        auto text = validate_note(name, *in, k_max_note_chars, false);
        if (!text) {
            return tl::unexpected(text.error());
        }
        if (*text != old) {
            fields[std::string(name)] = text->empty() ? json(nullptr) : json(*text);
        }
        return {};
    };
    for (auto ok : {set_note(patch.question, "question", current->question),
                    set_note(patch.advice, "advice", current->advice)}) {
        if (!ok) {
            return tl::unexpected(ok.error());
        }
    }
    if (patch.vulnerable && *patch.vulnerable != current->person.vulnerable) {
        fields["vulnerable"] = *patch.vulnerable ? json(**patch.vulnerable) : json(nullptr);
    }
    if (patch.follow_up && *patch.follow_up != current->follow_up) {
        fields["follow_up"] = *patch.follow_up;
    }
    if (fields.empty()) {
        return *current; // nothing differs: no event
    }
    auto ok = write([&]() -> Result<void> {
        auto versions = m_projector.field_versions(entities::consultation, current->id);
        if (!versions) {
            return tl::unexpected(versions.error());
        }
        json base = json::object();
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            base[it.key()] = (*versions)[it.key()];
        }
        base["deleted"] = (*versions)["deleted"];
        auto event = record(entities::consultation, current->id, k_op_update, fields, base);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return load_consultation(current->id);
}

Result<Consultation> Engine::remove_consultation(std::string_view ref) {
    auto current = find_consultation(ref);
    if (!current) {
        return tl::unexpected(current.error());
    }
    if (auto in = require_in_scope(current->region, current->visit_id); !in) {
        return tl::unexpected(in.error());
    }
    auto ok = write([&]() -> Result<void> {
        // A delete records every field version it saw, so an edit it had not seen is a conflict.
        auto base = m_projector.field_versions(entities::consultation, current->id);
        if (!base) {
            return tl::unexpected(base.error());
        }
        auto event = record(entities::consultation, current->id, k_op_delete,
                            {{"deleted", true}}, *base);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return *current;
}

Result<Consultation> Engine::undelete_consultation(std::string_view ref) {
    std::string r = normalize_space(ref);
    if (!looks_like_id_fragment(r)) {
        return fail(ErrorCode::invalid_input, msg::id_fragment_needed,
                    msg::field("consultation"));
    }
    auto ids = collect<std::string>(
        m_db,
        "SELECT id FROM consultations WHERE _created IS NOT NULL AND coalesce(deleted, 0)"
        " AND (id = ?1 OR instr(id, ?1) > 0) ORDER BY id = ?1 DESC LIMIT 6",
        [](const Statement& s) { return s.column_text(0); }, {r});
    if (!ids) {
        return tl::unexpected(ids.error());
    }
    if (ids->empty()) {
        if (auto live = resolve_id("consultations", r, "consultation")) {
            return fail(ErrorCode::conflict, msg::consultation_not_deleted, short_id(*live));
        }
        return fail(ErrorCode::not_found, msg::consultation_not_found, r);
    }
    if (ids->size() > 1 && ids->front() != r) {
        std::string list;
        for (const auto& id : *ids) {
            list += (list.empty() ? "" : ", ") + short_id(id);
        }
        return fail(ErrorCode::ambiguous, msg::id_ambiguous, msg::field("consultation"), r, list);
    }
    const std::string id = ids->front();
    auto ok = write([&]() -> Result<void> {
        // Based on every field version seen here: the delete it answers, and any edit, were
        // seen, so neither is a conflict with it.
        auto base = m_projector.field_versions(entities::consultation, id);
        if (!base) {
            return tl::unexpected(base.error());
        }
        auto event = record(entities::consultation, id, k_op_update, {{"deleted", false}}, *base);
        return event ? Result<void>() : tl::unexpected(event.error());
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return load_consultation(id);
}

Result<void> Engine::list_consultations(const ConsultationFilter& filter,
                                        const std::function<bool(const Consultation&)>& visitor) {
    // Conditions on the visit (never met by a consultation whose visit is unknown here), then
    // on the consultation itself, each with its values in order.
    std::string visit_id, where;
    std::vector<std::string> params;
    if (filter.visit) {
        CARAVAN_TRY(visit, find_visit(*filter.visit));
        visit_id = visit.id;
    }
    if (filter.region) {
        CARAVAN_TRY(region, find_region(*filter.region));
        where += "AND g.region = ? ";
        params.push_back(region);
    }
    if (filter.village) {
        CARAVAN_TRY(village, find_village(*filter.village));
        where += "AND v.village_id = ? ";
        params.push_back(village.id);
    }
    for (auto [bound, op, name] : {std::tuple{&filter.from, ">=", "from"},
                                   std::tuple{&filter.to, "<=", "to"}}) {
        if (*bound) {
            CARAVAN_TRY_VOID(validate_date(name, **bound));
            where += std::string("AND v.date ") + op + " ? ";
            params.push_back(**bound);
        }
    }
    if (filter.from && filter.to && *filter.from > *filter.to) {
        return fail(ErrorCode::invalid_input, msg::dates_reversed);
    }
    // Topics are stored as a JSON array of codes, which hold no quotes: `"land"` is found in
    // `["housing","land"]` and in no other topic's array.
    std::string own;
    std::vector<std::string> own_params;
    if (filter.topic) {
        CARAVAN_TRY(topic, enums::topic.parse(*filter.topic));
        own += "AND instr(c.topics, ?) > 0 ";
        own_params.push_back("\"" + topic + "\"");
    }
    if (filter.outcome) {
        CARAVAN_TRY(outcome, enums::outcome.parse(*filter.outcome));
        own += "AND c.outcome = ? ";
        own_params.push_back(outcome);
    }
    const std::string needle = fold_case(normalize_space(filter.text));
    // Text that few consultations hold is looked up in the text index: it names the candidates
    // (the consultations whose text may hold it, and those of the villages whose name does),
    // which are then read in order and checked as every row is. Text that many hold is found
    // soon enough by reading rows in order.
    CARAVAN_TRY(candidates, search_index::candidates(m_db, needle));
    // One buffer for every row's text, and the village's answer kept while the rows are of the
    // same village (they come visit by visit).
    std::string folded, last_village;
    bool village_matches = false;
    const auto found = [&](const Statement& row) {
        if (needle.empty()) {
            return true;
        }
        if (const std::string_view village = row.column_view(k_village_column);
            village != last_village) {
            last_village = village;
            fold_case(village, folded);
            village_matches = folded.find(needle) != std::string::npos;
        }
        if (village_matches) {
            return true;
        }
        for (int column : {k_question_column, k_advice_column}) {
            fold_case(row.column_view(column), folded);
            if (folded.find(needle) != std::string::npos) {
                return true;
            }
        }
        return false;
    };
    bool stopped = false;
    const auto each = [&](const std::string& query,
                          std::initializer_list<const std::vector<std::string>*> values)
        -> Result<void> {
        CARAVAN_TRY(stmt, m_db.prepare(query));
        int i = 1;
        for (const auto* list : values) {
            for (const std::string& p : *list) {
                stmt.bind(i++, p);
            }
        }
        return stmt.each([&](const Statement& row) {
            if (!found(row)) {
                return true;
            }
            stopped = !visitor(read_consultation(row));
            return !stopped;
        });
    };
    const std::vector<std::string> visit_params =
        visit_id.empty() ? std::vector<std::string>{} : std::vector<std::string>{visit_id};
    const std::string order = filter.newest_first ? "ORDER BY v.date DESC, c.id DESC"
                                                  : "ORDER BY v.date, c.id";

    if (candidates) {
        return each(consultation_select() + (visit_id.empty() ? "" : "AND c.visit_id = ? ") +
                        where + own + "AND c.rowid IN (" + candidates->sql + ") " + order,
                    {&visit_params, &params, &own_params, &candidates->params});
    }
    if (!filter.newest_first) {
        return each(consultation_select() + (visit_id.empty() ? "" : "AND c.visit_id = ? ") +
                        where + own + order,
                    {&visit_params, &params, &own_params});
    }
    // Newest first, the visit is the outer table: named by its own key.
    CARAVAN_TRY_VOID(each(consultation_select_by_visit() +
                              (visit_id.empty() ? "" : "AND v.id = ? ") + where + own + order,
                          {&visit_params, &params, &own_params}));
    if (stopped || !visit_id.empty() || !where.empty()) {
        return {};
    }
    std::string orphans = consultation_select_without_visit();
    orphans.insert(orphans.find(" ORDER BY"), " " + own);
    return each(orphans, {&own_params});
}

Result<std::vector<HistoryEntry>> Engine::consultation_history(std::string_view ref) {
    std::string id;
    if (auto found = resolve_id("consultations", ref, "consultation")) {
        id = *found;
    } else {
        // A deleted consultation still has a history: look it up among all rows.
        auto any = collect<std::string>(
            m_db, "SELECT id FROM consultations WHERE instr(id, ?1) > 0 LIMIT 2",
            [](const Statement& s) { return s.column_text(0); }, {normalize_space(ref)});
        if (!any || any->size() != 1) {
            return tl::unexpected(found.error());
        }
        id = any->front();
    }
    auto events = m_log.for_entity(id);
    if (!events) {
        return tl::unexpected(events.error());
    }
    auto lawyers = collect<std::pair<std::string, std::string>>(
        m_db, "SELECT id, coalesce(lawyer, '') FROM devices",
        [](const Statement& s) { return std::pair{s.column_text(0), s.column_text(1)}; });
    if (!lawyers) {
        return tl::unexpected(lawyers.error());
    }
    std::vector<HistoryEntry> history;
    std::vector<json> writes;
    for (const storage::Event& e : *events) {
        HistoryEntry h;
        h.version = version_of(e.hlc, e.device_id);
        h.time = Hlc{e.hlc}.to_iso();
        h.device_id = e.device_id;
        for (const auto& [device, lawyer] : *lawyers) {
            if (device == e.device_id) {
                h.lawyer = lawyer;
            }
        }
        h.op = e.op;
        json payload = json::parse(e.payload, nullptr, false);
        json fields = payload.is_object() ? payload.value("fields", json::object()) : json::object();
        h.fields_json = fields.dump();
        history.push_back(std::move(h));
        writes.push_back(std::move(fields));
    }
    std::vector<size_t> order(history.size());
    for (size_t k = 0; k < order.size(); ++k) {
        order[k] = k;
    }
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return history[a].version < history[b].version; });
    std::vector<HistoryEntry> sorted;
    for (size_t pos = 0; pos < order.size(); ++pos) {
        size_t k = order[pos];
        HistoryEntry h = history[k];
        for (auto it = writes[k].begin(); it != writes[k].end(); ++it) {
            for (size_t later = pos + 1; later < order.size(); ++later) {
                if (writes[order[later]].contains(it.key())) {
                    h.superseded.push_back(it.key());
                    break;
                }
            }
        }
        sorted.push_back(std::move(h));
    }
    return sorted;
}

Result<std::vector<ConflictEntry>> Engine::conflicts() {
    auto list = collect<ConflictEntry>(
        m_db,
        "SELECT entity_type, entity_id, field, a_version, a_value, b_version, b_value"
        " FROM conflicts ORDER BY entity_id, field, a_version",
        [](const Statement& s) {
            ConflictEntry c;
            c.entity_type = s.column_text(0);
            c.entity_id = s.column_text(1);
            c.field = s.column_text(2);
            c.a_version = s.column_text(3);
            c.a_value = s.column_text(4);
            c.b_version = s.column_text(5);
            c.b_value = s.column_text(6);
            return c;
        });
    if (!list) {
        return list;
    }
    for (ConflictEntry& c : *list) {
        const EntityDef* def = find_entity(c.entity_type);
        if (!def || !c.delete_vs_edit()) {
            continue;
        }
        auto deleted = scalar(m_db,
                              "SELECT coalesce(deleted, 0) FROM " + std::string(def->table) +
                                  " WHERE id = ?",
                              {c.entity_id});
        if (!deleted) {
            return tl::unexpected(deleted.error());
        }
        c.record_deleted = *deleted != 0;
    }
    return list;
}

Result<Status> Engine::status() {
    Status st;
    if (auto d = device()) {
        st.device = *d;
    } else if (d.error().code != ErrorCode::not_initialized) {
        return tl::unexpected(d.error());
    }
    auto current = current_visit();
    if (!current) {
        return tl::unexpected(current.error());
    }
    st.current_visit = *current;
    struct Count {
        std::int64_t* target;
        std::string sql;
    };
    std::string visible = std::string(" WHERE ") + k_visible;
    const Count counts[] = {
        {&st.villages, "SELECT count(*) FROM villages" + visible},
        {&st.visits, "SELECT count(*) FROM visits" + visible},
        {&st.open_visits, "SELECT count(*) FROM visits" + visible + " AND NOT coalesce(closed, 0)"},
        {&st.consultations, "SELECT count(*) FROM consultations" + visible},
        {&st.attendance_entries, "SELECT count(*) FROM attendance" + visible},
        {&st.participants, "SELECT coalesce(sum(count), 0) FROM attendance" + visible},
        {&st.surveys, "SELECT count(*) FROM surveys" + visible},
        {&st.photos, "SELECT count(*) FROM photos" + visible},
        {&st.events, "SELECT count(*) FROM events"},
        {&st.conflicts, "SELECT count(*) FROM conflicts"},
    };
    for (const Count& c : counts) {
        auto n = scalar(m_db, c.sql);
        if (!n) {
            return tl::unexpected(n.error());
        }
        *c.target = *n;
    }
    if (st.device) {
        auto acked = m_settings.get(key::push_acked_seq);
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        std::string after = acked->value_or("0");
        auto unsynced = scalar(m_db,
                               "SELECT count(*) FROM events WHERE device_id = ? AND seq > "
                               "CAST(? AS INTEGER)",
                               {st.device->id, after});
        if (!unsynced) {
            return tl::unexpected(unsynced.error());
        }
        st.unsynced = *unsynced;
        if (st.unsynced > 0) {
            auto oldest = scalar(m_db,
                                 "SELECT min(hlc) FROM events WHERE device_id = ? AND seq > "
                                 "CAST(? AS INTEGER)",
                                 {st.device->id, after});
            if (!oldest) {
                return tl::unexpected(oldest.error());
            }
            st.oldest_unsynced = Hlc{*oldest}.to_iso();
        }
    }
    return st;
}

} // namespace caravan::client
