// Indicators and breakdowns: the queries. Rendering is in export_report_render.cpp.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <map>
#include <set>

#include "caravan/client/domain.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/export/snapshot.hpp"
#include "caravan/client/projection.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client::exports {

namespace {

using storage::Statement;

// The visits in scope. Parameters: ?1 region, ?2 from, ?3 to (NULL: no bound).
// Only visits whose village, and so whose region, is known here: "all regions" counts exactly
// what the regions count, so that all = the sum over the regions (docs/exports.md). Visits
// placed in no region are reported by the unknown_village warning instead.
constexpr std::string_view k_scoped_visits =
    "WITH sv AS (SELECT v.id, coalesce(v.date, '') AS date, v.village_id,"
    " coalesce(g.name, '') AS village, g.region AS region,"
    " coalesce(v.lawyer, '') AS lawyer, coalesce(v.closed, 0) AS closed"
    " FROM visits v JOIN villages g ON g.id = v.village_id AND g.region IS NOT NULL"
    " WHERE " CARAVAN_VISIBLE_SQL("v.")
    " AND (?1 IS NULL OR g.region IN (SELECT value FROM json_each(?1))) AND (?2 IS NULL OR v.date >= ?2)"
    " AND (?3 IS NULL OR v.date <= ?3)) ";

// Visits whose village (so whose region) is not known here: they and their records are counted
// in no scope.
constexpr std::string_view k_unplaced_visits_sql =
    "SELECT count(*) FROM visits v WHERE " CARAVAN_VISIBLE_SQL("v.")
    " AND NOT EXISTS (SELECT 1 FROM villages g WHERE g.id = v.village_id"
    " AND g.region IS NOT NULL)";

// The sums below read client/model's visit totals (visit_totals.hpp): each visit's records
// added up as they were written, so a report reads a few rows per visit, not every record.

// Participants of each breakdown value at each visit in scope, by the counting rule of
// report.hpp: a visit's attendance where it has any, else its consultations. Rows: field,
// value, people; the caller adds them up (a GROUP BY over text costs SQLite several times the
// reading). Visit by visit (CROSS JOIN keeps the visits outside), each visit's rows of one
// source read as one range of the table's key.
const std::string k_participants_sql =
    std::string(k_scoped_visits) +
    "SELECT b.field, b.value, b.n FROM sv"
    " LEFT JOIN visit_totals t ON t.visit_id = sv.id"
    " CROSS JOIN visit_breakdowns b ON b.visit_id = sv.id AND b.source ="
    " CASE WHEN coalesce(t.attendance, 0) > 0 THEN 'attendance' ELSE 'consultation' END";

// One row per visit in scope with what was recorded there.
const std::string k_visits_sql =
    std::string(k_scoped_visits) +
    "SELECT sv.id, sv.date, sv.village_id, sv.village, sv.region, sv.lawyer, sv.closed,"
    " coalesce(t.attendance, 0), coalesce(t.people, 0), coalesce(t.people_unrecorded_gender, 0),"
    " coalesce(t.people_unrecorded_age, 0), coalesce(t.people_unrecorded_category, 0),"
    " coalesce(t.consultations, 0), coalesce(t.cases, 0),"
    " coalesce(t.consultations_unrecorded_gender, 0), coalesce(t.consultations_unrecorded_age, 0),"
    " coalesce(t.consultations_unrecorded_category, 0), coalesce(t.photos, 0),"
    " coalesce(t.respondents, 0), coalesce(t.satisfied, 0)"
    " FROM sv LEFT JOIN visit_totals t ON t.visit_id = sv.id ORDER BY sv.date, sv.id";

// The lawyers of the visits in scope and of their consultations.
const std::string k_lawyers_sql =
    std::string(k_scoped_visits) +
    "SELECT lawyer FROM sv UNION SELECT l.lawyer FROM visit_lawyers l"
    " JOIN sv ON sv.id = l.visit_id ORDER BY 1";

// Records whose visit is not visible here: they cannot be placed in any scope.
constexpr std::string_view k_orphans_sql =
    "SELECT coalesce(sum(t.consultations), 0), coalesce(sum(t.people), 0),"
    " coalesce(sum(t.photos), 0), coalesce(sum(t.surveys), 0) FROM visit_totals t"
    " WHERE NOT EXISTS (SELECT 1 FROM visits v WHERE v.id = t.visit_id AND " CARAVAN_VISIBLE_SQL(
        "v.") ")";

Result<Statement> scoped(storage::Database& db, std::string_view sql, const Scope& scope) {
    auto stmt = db.prepare(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto regions = region_spellings(db, scope.region);
    if (!regions) {
        return tl::unexpected(regions.error());
    }
    stmt->bind(1, *regions).bind(2, scope.from).bind(3, scope.to);
    return stmt;
}

// A table with a row for every known value (enumeration order, "unrecorded" last), then the
// unknown codes met in the data, in code order.
class Tally {
  public:
    Tally(std::string code, std::vector<std::string> known) : m_code(std::move(code)) {
        for (std::string& k : known) {
            m_rows.push_back({std::move(k), 0});
        }
    }
    void add(std::string_view value, std::int64_t n) {
        for (BreakdownRow& r : m_rows) {
            if (r.code == value) {
                r.participants += n;
                return;
            }
        }
        if (auto it = m_unknown.find(value); it != m_unknown.end()) {
            it->second += n;
        } else {
            m_unknown.emplace(std::string(value), n);
        }
    }
    BreakdownTable table() const {
        BreakdownTable t{m_code, m_rows, 0};
        for (const auto& [code, n] : m_unknown) {
            t.rows.push_back({code, n});
        }
        for (const BreakdownRow& r : t.rows) {
            t.total += r.participants;
        }
        return t;
    }

  private:
    std::string m_code;
    std::vector<BreakdownRow> m_rows;
    std::map<std::string, std::int64_t, std::less<>> m_unknown;
};

std::vector<std::string> codes(const Enumeration& e) {
    std::vector<std::string> out;
    for (const EnumValue& v : e.values) {
        if (v.code != k_unrecorded) {
            out.emplace_back(v.code);
        }
    }
    out.emplace_back(k_unrecorded);
    return out;
}

double round_to(double value, int decimals) {
    double scale = std::pow(10.0, decimals);
    return std::round(value * scale) / scale;
}

Indicator indicator(std::string code, std::optional<double> plan, std::optional<double> fact,
                    bool whole = true) {
    Indicator i;
    i.code = std::move(code);
    i.plan = plan;
    i.fact = fact;
    i.whole = whole;
    if (plan && fact) {
        i.met = *fact >= *plan;
        if (*plan > 0) {
            i.achieved_percent = round_to(*fact / *plan * 100.0, 1);
        }
    }
    return i;
}

} // namespace

std::string_view to_string(WarningKind kind) {
    switch (kind) {
    case WarningKind::visit_without_attendance:
        return "visit_without_attendance";
    case WarningKind::consultations_exceed_attendance:
        return "consultations_exceed_attendance";
    case WarningKind::consultation_unrecorded:
        return "consultation_unrecorded";
    case WarningKind::attendance_unrecorded:
        return "attendance_unrecorded";
    case WarningKind::photos_below_plan:
        return "photos_below_plan";
    case WarningKind::open_visit:
        return "open_visit";
    case WarningKind::unknown_visit:
        return "unknown_visit";
    case WarningKind::unknown_village:
        return "unknown_village";
    }
    return "unknown";
}

Result<Breakdown> compute_breakdown(storage::Database& db, const Scope& requested,
                                    const VisitProgress& progress) {
    // One snapshot for the whole computation, the scope resolved inside it.
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    CARAVAN_TRY(scope, resolve_scope(db, requested));
    Breakdown b;
    b.scope = scope;
    Tally gender("gender", codes(enums::gender));
    Tally category("category", codes(enums::category));
    Tally age("age", codes(enums::age));
    Tally vulnerable("vulnerable", {"yes", "no", std::string(k_unrecorded)});
    auto stmt = scoped(db, k_participants_sql, b.scope);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto ok = stmt->each([&](const Statement& s) {
        const std::string_view field = s.column_view(0);
        const std::int64_t n = s.column_int(2);
        Tally* tally = field == "gender"     ? &gender
                       : field == "age"      ? &age
                       : field == "category" ? &category
                       : field == "vulnerable" ? &vulnerable
                                               : nullptr;
        if (tally) {
            tally->add(s.column_view(1), n);
        }
        if (field == "gender") {
            b.participants += n; // every participant has one row of each field
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    b.tables = {gender.table(), category.table(), age.table(), vulnerable.table()};
    auto visits = scoped(db, k_visits_sql, b.scope);
    if (!visits) {
        return tl::unexpected(visits.error());
    }
    ok = visits->each([&](const Statement& s) {
        ++b.visits;
        if (progress) {
            progress(b.visits);
        }
        if (s.column_int(7) == 0 && s.column_int(12) > 0) {
            ++b.visits_counted_by_consultations;
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return b;
}

Result<IndicatorReport> compute_indicators(storage::Database& db, const Plan& plan,
                                           const Scope& requested, const VisitProgress& progress) {
    auto snapshot = ReadSnapshot::begin(db);
    if (!snapshot) {
        return tl::unexpected(snapshot.error());
    }
    Scope wanted = requested;
    if (!wanted.from && !wanted.to) {
        wanted.from = plan.from;
        wanted.to = plan.to;
    }
    auto scope = resolve_scope(db, wanted);
    if (!scope) {
        return tl::unexpected(scope.error());
    }
    IndicatorReport report;
    report.plan = plan;
    report.scope = *scope;

    std::int64_t visits = 0, participants = 0, consultations = 0, cases = 0, photos = 0,
                 respondents = 0, satisfied = 0;
    std::set<std::string> villages, journals;
    auto stmt = scoped(db, k_visits_sql, report.scope);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto ok = stmt->each([&](const Statement& s) {
        Warning at;
        at.visit_id = s.column_text(0);
        at.date = s.column_text(1);
        at.village = s.column_text(3);
        at.region = s.column_text(4);
        at.lawyer = s.column_text(5);
        bool closed = s.column_int(6) != 0;
        std::int64_t entries = s.column_int(7), people = s.column_int(8);
        std::int64_t held = s.column_int(12), taken_on = s.column_int(13);
        std::int64_t pictures = s.column_int(17);
        auto warn = [&](WarningKind kind, std::int64_t count, std::int64_t expected = 0,
                        std::string field = {}) {
            Warning w = at;
            w.kind = kind;
            w.count = count;
            w.expected = expected;
            w.field = std::move(field);
            report.warnings.push_back(std::move(w));
        };

        ++visits;
        if (progress) {
            progress(visits);
        }
        villages.insert(s.column_text(2));
        consultations += held;
        cases += taken_on;
        photos += pictures;
        respondents += s.column_int(18);
        satisfied += s.column_int(19);
        if (held > 0 && !at.region.empty()) {
            journals.insert(fold_case(normalize_space(at.region))); // one journal per region
        }
        if (entries > 0) {
            participants += people;
            if (held > people) {
                warn(WarningKind::consultations_exceed_attendance, held, people);
            }
        } else {
            participants += held;
            warn(WarningKind::visit_without_attendance, held);
        }
        const char* fields[] = {"gender", "age", "category"};
        for (int f = 0; f < 3; ++f) {
            if (std::int64_t n = s.column_int(14 + f); n > 0) {
                warn(WarningKind::consultation_unrecorded, n, 0, fields[f]);
            }
        }
        for (int f = 0; f < 3; ++f) {
            if (std::int64_t n = s.column_int(9 + f); n > 0) {
                warn(WarningKind::attendance_unrecorded, n, 0, fields[f]);
            }
        }
        if (static_cast<double>(pictures) < plan.targets.photos_per_visit) {
            warn(WarningKind::photos_below_plan, pictures,
                 static_cast<std::int64_t>(std::ceil(plan.targets.photos_per_visit)));
        }
        if (!closed) {
            warn(WarningKind::open_visit, 0);
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }

    // Lawyers: distinct names, compared the way people read them (case, spacing).
    std::set<std::string> lawyers;
    auto names = scoped(db, k_lawyers_sql, report.scope);
    if (!names) {
        return tl::unexpected(names.error());
    }
    ok = names->each([&](const Statement& s) {
        std::string name = fold_case(normalize_space(s.column_text(0)));
        if (!name.empty()) {
            lawyers.insert(name);
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }

    auto orphans = db.prepare(k_orphans_sql);
    if (!orphans) {
        return tl::unexpected(orphans.error());
    }
    ok = orphans->each([&](const Statement& s) {
        const char* types[] = {"consultations", "attendance", "photos", "surveys"};
        for (int i = 0; i < 4; ++i) {
            if (std::int64_t n = s.column_int(i); n > 0) {
                Warning w;
                w.kind = WarningKind::unknown_visit;
                w.field = types[i];
                w.count = n;
                report.warnings.push_back(std::move(w));
            }
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }

    auto unplaced = db.prepare(k_unplaced_visits_sql);
    if (!unplaced) {
        return tl::unexpected(unplaced.error());
    }
    ok = unplaced->each([&](const Statement& s) {
        if (std::int64_t n = s.column_int(0); n > 0) {
            Warning w;
            w.kind = WarningKind::unknown_village;
            w.field = "visits";
            w.count = n;
            report.warnings.push_back(std::move(w));
        }
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }

    const PlanTargets& t = plan.targets;
    auto opt = [](const std::optional<std::int64_t>& v) {
        return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
    };
    auto d = [](std::int64_t v) { return std::optional<double>(static_cast<double>(v)); };
    report.indicators = {
        indicator("villages", d(t.villages), d(static_cast<std::int64_t>(villages.size()))),
        indicator("visits", opt(t.visits), d(visits)),
        indicator("participants", d(t.participants), d(participants)),
        indicator("consultations", opt(t.consultations), d(consultations)),
        indicator("journals", d(t.journals), d(static_cast<std::int64_t>(journals.size()))),
        indicator("lawyers", d(t.lawyers), d(static_cast<std::int64_t>(lawyers.size()))),
        indicator("protected", d(t.protected_people), d(cases)),
        indicator("satisfaction_percent", t.satisfaction_percent,
                  respondents > 0 ? std::optional<double>(100.0 * static_cast<double>(satisfied) /
                                                          static_cast<double>(respondents))
                                  : std::nullopt,
                  false),
        indicator("photos_per_visit", t.photos_per_visit,
                  visits > 0 ? std::optional<double>(static_cast<double>(photos) /
                                                     static_cast<double>(visits))
                             : std::nullopt,
                  false),
    };
    report.indicators[7].numerator = satisfied;
    report.indicators[7].denominator = respondents;
    report.indicators[8].numerator = photos;
    report.indicators[8].denominator = visits;
    return report;
}

namespace {

constexpr int k_max_filled_weeks = 260; // five years of columns

std::string date_text(std::chrono::sys_days day) {
    const std::chrono::year_month_day ymd{day};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
    return buf;
}

// Adds the weeks without a visit between the first and the last week with one (zeros), so
// that a chart along time shows the gaps; not when they span more than k_max_filled_weeks.
void fill_weeks(std::map<std::string, ActivityRow>& weeks) {
    namespace ch = std::chrono;
    const auto day_of = [](const std::string& monday) {
        int y = 0;
        unsigned m = 0, d = 0;
        std::sscanf(monday.c_str(), "%4d-%2u-%2u", &y, &m, &d);
        return ch::sys_days{ch::year{y} / ch::month{m} / ch::day{d}};
    };
    auto first = weeks.begin();
    if (first != weeks.end() && first->first.empty()) {
        ++first; // undated visits
    }
    if (first == weeks.end()) {
        return;
    }
    const ch::sys_days from = day_of(first->first), to = day_of(weeks.rbegin()->first);
    if ((to - from).count() / 7 > k_max_filled_weeks) {
        return;
    }
    for (ch::sys_days day = from; day < to; day += ch::days{7}) {
        const std::string monday = date_text(day);
        weeks.try_emplace(monday, ActivityRow{monday, 0, 0, 0});
    }
}

} // namespace

std::string week_of(std::string_view date) {
    namespace ch = std::chrono;
    int y = 0;
    unsigned m = 0, d = 0;
    if (date.size() != 10 || date[4] != '-' || date[7] != '-' ||
        std::sscanf(std::string(date).c_str(), "%4d-%2u-%2u", &y, &m, &d) != 3) {
        return {};
    }
    const ch::year_month_day ymd{ch::year{y}, ch::month{m}, ch::day{d}};
    if (!ymd.ok()) {
        return {};
    }
    const ch::sys_days day{ymd};
    return date_text(day - (ch::weekday{day} - ch::Monday));
}

Result<Activity> compute_activity(storage::Database& db, const Scope& requested) {
    // One snapshot for the whole computation, the scope resolved inside it.
    CARAVAN_TRY(snapshot, ReadSnapshot::begin(db));
    (void)snapshot;
    CARAVAN_TRY(scope, resolve_scope(db, requested));
    Activity activity;
    activity.scope = scope;
    std::map<std::string, ActivityRow> weeks, regions, lawyers;
    std::map<std::string, std::set<std::string>> villages;
    const auto add = [](std::map<std::string, ActivityRow>& rows, const std::string& key,
                        std::int64_t consultations, std::int64_t participants) {
        ActivityRow& row = rows[key];
        row.key = key;
        ++row.visits;
        row.consultations += consultations;
        row.participants += participants;
    };
    auto stmt = scoped(db, k_visits_sql, activity.scope);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto ok = stmt->each([&](const Statement& s) {
        const std::int64_t entries = s.column_int(7), people = s.column_int(8);
        const std::int64_t held = s.column_int(12);
        // The participant rule of the indicators (report.hpp).
        const std::int64_t participants = entries > 0 ? people : held;
        const std::string region = s.column_text(4);
        add(weeks, week_of(s.column_text(1)), held, participants);
        add(regions, region, held, participants);
        add(lawyers, s.column_text(5), held, participants);
        villages[region].insert(s.column_text(2));
        ++activity.total.visits;
        activity.total.consultations += held;
        activity.total.participants += participants;
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    fill_weeks(weeks);
    for (auto [rows, out] : {std::pair{&weeks, &activity.weeks},
                              std::pair{&regions, &activity.regions},
                              std::pair{&lawyers, &activity.lawyers}}) {
        for (auto& [key, row] : *rows) {
            out->push_back(std::move(row));
        }
    }
    for (const auto& [region, names] : villages) {
        activity.villages.push_back(
            RegionVillages{region, static_cast<std::int64_t>(names.size())});
    }
    return activity;
}

} // namespace caravan::client::exports
