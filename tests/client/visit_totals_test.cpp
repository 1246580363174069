// The visit totals (client/model visit_totals.hpp) that the grant report adds up: whatever
// events arrive, in whatever order (updates before their create, records moved between visits,
// deletes, undeletes, a visit that never arrives), the kept tables equal what the records add
// up to, and the report computed from them equals a count made here by reading every visible
// record, row by row. A database from before the totals gets them; totals that drifted are
// found by `check` and mended by a rebuild.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/database.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using nlohmann::json;
using test::ok;
namespace ex = caravan::client::exports;

namespace {

// A history of raw events from three devices over six visits (one of them never created, so
// its records are orphans) in two regions, with records created, edited field by field,
// moved to another visit, deleted and brought back.
class History {
  public:
    explicit History(unsigned seed) : m_random(seed) {
        for (int d = 0; d < 3; ++d) {
            m_devices.push_back(uuid_v7(test::k_field_day_ms - 100000 + d));
        }
        const std::string villages[] = {uuid_v7(test::k_field_day_ms - 5000),
                                        uuid_v7(test::k_field_day_ms - 4999)};
        emit("village", villages[0], "create",
             {{"name", "Қызылжар"}, {"region", "Ақтөбе обл."}, {"deleted", false}});
        emit("village", villages[1], "create",
             {{"name", "Бескөл"}, {"region", "Жамбыл обл."}, {"deleted", false}});
        for (int v = 0; v < 6; ++v) {
            m_visits.push_back(uuid_v7(test::k_field_day_ms - 4000 + v));
            if (v == 5) {
                continue; // never arrives
            }
            emit("visit", m_visits.back(), "create",
                 {{"village_id", villages[v % 2]},
                  {"date", "2024-05-1" + std::to_string(v)},
                  {"lawyer", v % 3 ? "Арнат Ұлтанбаев" : "Гүлнар Сейітова"},
                  {"closed", v % 2 == 0},
                  {"deleted", false}});
        }
        for (int i = 0; i < 160; ++i) {
            step();
        }
    }
    const std::vector<storage::Event>& events() const { return m_events; }

  private:
    template <class T> const T& pick(const std::vector<T>& from) {
        return from[std::uniform_int_distribution<std::size_t>(0, from.size() - 1)(m_random)];
    }
    int roll(int n) { return std::uniform_int_distribution<int>(0, n - 1)(m_random); }
    json person_field(const std::string& field) {
        static const std::map<std::string, std::vector<std::string>> values = {
            {"gender", {"female", "male", "unrecorded"}},
            {"age", {"28-32", "33-45", "unrecorded"}},
            {"category", {"unemployed", "older", "unrecorded"}},
        };
        return pick(values.at(field));
    }
    json flag() {
        const int r = roll(3);
        return r == 0 ? json(nullptr) : json(r == 1);
    }

    void step() {
        const int what = roll(10);
        if (what < 5 || m_records.empty()) {
            create();
            return;
        }
        const auto& [id, type] = pick(m_records);
        if (what == 5) {
            emit(type, id, "delete", {{"deleted", true}});
        } else if (what == 6) {
            emit(type, id, "update", {{"deleted", false}});
        } else if (what == 7) {
            emit(type, id, "update", {{"visit_id", pick(m_visits)}});
        } else {
            emit(type, id, "update", edit(type));
        }
    }

    // A topic list: one code, or several, maybe one twice (counted once at the visit).
    json topics() {
        static const char* const codes[] = {"land", "family", "credit"};
        json list = json::array();
        for (int n = 1 + roll(3); n > 0; --n) {
            list.push_back(codes[roll(3)]);
        }
        return list;
    }

    json edit(const std::string& type) {
        if (type == "consultation") {
            switch (roll(7)) {
            case 0: return {{"gender", person_field("gender")}};
            case 1: return {{"age", person_field("age")}};
            case 2: return {{"category", person_field("category")}};
            case 3: return {{"vulnerable", flag()}};
            case 4: return {{"outcome", roll(2) ? "case" : "advice"}};
            case 5: return {{"topics", topics()}};
            default: return {{"lawyer", roll(2) ? "Арнат Ұлтанбаев" : " арнат  ұлтанбаев"}};
            }
        }
        if (type == "attendance") {
            switch (roll(3)) {
            case 0: return {{"count", roll(12)}};
            case 1: return {{"gender", person_field("gender")}};
            default: return {{"vulnerable", flag()}};
            }
        }
        if (type == "survey") {
            const int respondents = roll(9);
            return {{"respondents", respondents}, {"satisfied", roll(respondents + 1)}};
        }
        return {{"caption", "сурет"}};
    }

    void create() {
        const std::string id = uuid_v7(test::k_field_day_ms + static_cast<std::int64_t>(
                                                                  m_records.size()));
        const std::string visit = pick(m_visits);
        const int kind = roll(7);
        if (kind < 3) {
            m_records.emplace_back(id, "consultation");
            emit("consultation", id, "create",
                 {{"visit_id", visit},
                  {"lawyer", roll(3) ? "Арнат Ұлтанбаев" : "Гүлнар Сейітова"},
                  {"gender", person_field("gender")},
                  {"age", person_field("age")},
                  {"category", person_field("category")},
                  {"vulnerable", flag()},
                  {"topics", topics()},
                  {"outcome", roll(3) ? "advice" : "case"},
                  {"follow_up", false},
                  {"deleted", false}});
        } else if (kind < 5) {
            m_records.emplace_back(id, "attendance");
            emit("attendance", id, "create",
                 {{"visit_id", visit},
                  {"gender", person_field("gender")},
                  {"age", person_field("age")},
                  {"category", person_field("category")},
                  {"vulnerable", flag()},
                  {"count", roll(15)},
                  {"deleted", false}});
        } else if (kind == 5) {
            m_records.emplace_back(id, "survey");
            const int respondents = roll(9);
            emit("survey", id, "create",
                 {{"visit_id", visit},
                  {"respondents", respondents},
                  {"satisfied", roll(respondents + 1)},
                  {"deleted", false}});
        } else {
            m_records.emplace_back(id, "photo");
            emit("photo", id, "create",
                 {{"visit_id", visit},
                  {"sha256", std::string(64, 'a' + static_cast<char>(roll(6)))},
                  {"size", 1000 + roll(1000)},
                  {"deleted", false}});
        }
    }

    void emit(const std::string& type, const std::string& id, const std::string& op,
              const json& fields) {
        const std::size_t d = static_cast<std::size_t>(roll(3));
        storage::Event e;
        e.device_id = m_devices[d];
        e.seq = ++m_seq[d];
        // Clocks that disagree a little: a later event may lose to an earlier one of another
        // device. Each device's own clock moves forward.
        const std::int64_t wall =
            test::k_field_day_ms + static_cast<std::int64_t>(m_events.size()) * 1000 + roll(5000);
        m_wall[d] = std::max(m_wall[d] + 1, wall);
        e.hlc = Hlc::from_parts(m_wall[d], 0).value;
        e.entity_type = type;
        e.entity_id = id;
        e.op = op;
        e.payload = json{{"fields", fields}}.dump();
        m_events.push_back(std::move(e));
    }

    std::mt19937 m_random;
    std::vector<std::string> m_devices, m_visits;
    std::vector<std::pair<std::string, std::string>> m_records; // id, type
    std::int64_t m_seq[3] = {0, 0, 0};
    std::int64_t m_wall[3] = {0, 0, 0};
    std::vector<storage::Event> m_events;
};

bool apply(Engine& engine, storage::Event e) {
    e.server_seq.reset();
    e.log_position = 0;
    return ok(engine.apply_remote(std::move(e)));
}

bool totals_match(Engine& engine) {
    return ok(visit_totals::matches_tables(ok(engine.read_view()).database()));
}

// The report's numbers, counted here from every visible record, row by row, by the rule of
// report.hpp: at a visit with attendance its head counts, else one per consultation.
struct Counted {
    std::int64_t participants = 0, consultations = 0, cases = 0, photos = 0, visits = 0;
    std::map<std::string, std::map<std::string, std::int64_t>> breakdown; // field -> value -> n
    std::int64_t orphan_consultations = 0;
};

Counted count_by_hand(storage::Database& db) {
    Counted c;
    std::map<std::string, std::int64_t> people;              // visit -> attendance people
    std::set<std::string> with_attendance, placed;           // visits
    const std::string visible = "_created IS NOT NULL AND NOT coalesce(deleted, 0)";
    ok(db.query("SELECT v.id FROM visits v JOIN villages g ON g.id = v.village_id AND"
                " g.region IS NOT NULL WHERE v._created IS NOT NULL AND"
                " NOT coalesce(v.deleted, 0)")
           .each([&](const storage::Statement& s) { placed.insert(s.column_text(0)); }));
    c.visits = static_cast<std::int64_t>(placed.size());
    const auto add = [&](const storage::Statement& s, std::int64_t n) {
        const char* fields[] = {"gender", "age", "category"};
        for (int f = 0; f < 3; ++f) {
            auto v = s.column_opt_text(1 + f);
            c.breakdown[fields[f]][v ? *v : "unrecorded"] += n;
        }
        auto flag = s.column_opt_int(4);
        c.breakdown["vulnerable"][!flag ? "unrecorded" : *flag ? "yes" : "no"] += n;
        c.participants += n;
    };
    ok(db.query("SELECT visit_id, gender, age, category, vulnerable, count FROM attendance WHERE " +
                visible)
           .each([&](const storage::Statement& s) {
               if (placed.contains(s.column_text(0))) {
                   with_attendance.insert(s.column_text(0));
                   add(s, s.column_opt_int(5).value_or(0));
               }
           }));
    ok(db.query("SELECT visit_id, gender, age, category, vulnerable, outcome FROM consultations"
                " WHERE " +
                visible)
           .each([&](const storage::Statement& s) {
               if (!placed.contains(s.column_text(0))) {
                   ++c.orphan_consultations;
                   return;
               }
               ++c.consultations;
               c.cases += s.column_opt_text(5) == std::optional<std::string>("case") ? 1 : 0;
               if (!with_attendance.contains(s.column_text(0))) {
                   add(s, 1);
               }
           }));
    ok(db.query("SELECT visit_id FROM photos WHERE " + visible)
           .each([&](const storage::Statement& s) {
               c.photos += placed.contains(s.column_text(0)) ? 1 : 0;
           }));
    return c;
}

double fact(const ex::IndicatorReport& r, const std::string& code) {
    for (const ex::Indicator& i : r.indicators) {
        if (i.code == code) {
            return i.fact.value_or(-1);
        }
    }
    FAIL("no indicator " << code);
    return -1;
}

// The report over `engine` equals the count made by hand. Returns that count.
Counted check_report(Engine& engine) {
    auto view = ok(engine.read_view());
    storage::Database& db = view.database();
    const Counted want = count_by_hand(db);
    ex::Plan plan;
    const ex::IndicatorReport indicators = ok(ex::compute_indicators(db, plan, {}));
    CHECK(fact(indicators, "visits") == static_cast<double>(want.visits));
    CHECK(fact(indicators, "participants") == static_cast<double>(want.participants));
    CHECK(fact(indicators, "consultations") == static_cast<double>(want.consultations));
    CHECK(fact(indicators, "protected") == static_cast<double>(want.cases));
    std::int64_t orphans = 0;
    for (const ex::Warning& w : indicators.warnings) {
        if (w.kind == ex::WarningKind::unknown_visit && w.field == "consultations") {
            orphans = w.count;
        }
    }
    CHECK(orphans == want.orphan_consultations);
    const ex::Breakdown breakdown = ok(ex::compute_breakdown(db, {}));
    CHECK(breakdown.participants == want.participants);
    for (const ex::BreakdownTable& table : breakdown.tables) {
        CHECK(table.total == want.participants);
        for (const ex::BreakdownRow& row : table.rows) {
            auto field = want.breakdown.find(table.code);
            const std::int64_t n = field == want.breakdown.end() ||
                                           !field->second.contains(row.code)
                                       ? 0
                                       : field->second.at(row.code);
            INFO(table.code << " " << row.code);
            CHECK(row.participants == n);
        }
    }
    const ex::Activity activity = ok(ex::compute_activity(db, {}));
    CHECK(activity.total.participants == want.participants);
    CHECK(activity.total.consultations == want.consultations);
    return want;
}

std::string report_json(Engine& engine) {
    auto view = ok(engine.read_view());
    std::ostringstream out;
    ex::Plan plan;
    ok(ex::write_indicators(ok(ex::compute_indicators(view.database(), plan, {})),
                            ex::Format::json, Lang::en, out));
    ok(ex::write_breakdown(ok(ex::compute_breakdown(view.database(), {})), ex::Format::json,
                           Lang::en, out));
    return out.str();
}

} // namespace

TEST_CASE("visit totals: in any arrival order the totals equal the records' sums and the "
          "report equals a count by hand",
          "[client][totals][report]") {
    // Not vacuous: some history has orphans, and visits counted each way.
    bool orphans = false, by_attendance = false, by_consultations = false;
    for (unsigned seed = 1; seed <= 4; ++seed) {
        INFO("seed " << seed);
        const History history(seed);
        test::TempDir dir;
        Engine in_order = ok(Engine::open(dir / "a.db"));
        Engine shuffled = ok(Engine::open(dir / "b.db"));
        std::vector<storage::Event> events = history.events();
        std::size_t applied = 0;
        for (const storage::Event& e : events) {
            applied += apply(in_order, e) ? 1 : 0;
            if (applied % 40 == 0) {
                REQUIRE(totals_match(in_order)); // along the way, not only at the end
            }
        }
        CHECK(applied == events.size());
        std::shuffle(events.begin(), events.end(), std::mt19937(seed * 7919));
        for (std::size_t i = 0; i < events.size(); ++i) {
            apply(shuffled, events[i]);
            if (i % 50 == 0) {
                REQUIRE(totals_match(shuffled));
            }
        }
        REQUIRE(totals_match(in_order));
        REQUIRE(totals_match(shuffled));
        CHECK(test::fingerprint(in_order) == test::fingerprint(shuffled));
        const Counted counted = check_report(in_order);
        check_report(shuffled);
        orphans = orphans || counted.orphan_consultations > 0;
        const ex::Breakdown b = ok(ex::compute_breakdown(ok(in_order.read_view()).database(), {}));
        by_consultations = by_consultations || b.visits_counted_by_consultations > 0;
        by_attendance = by_attendance || b.visits > b.visits_counted_by_consultations;
        const std::string report = report_json(in_order);
        CHECK(report_json(shuffled) == report);
        // A rebuild recomputes the totals once: the same tables, the same report.
        ok(shuffled.rebuild_projections());
        CHECK(totals_match(shuffled));
        CHECK(report_json(shuffled) == report);
        CHECK(ok(shuffled.check(dir.path())).projections_match);
    }
    CHECK(orphans);
    CHECK(by_attendance);
    CHECK(by_consultations);
}

TEST_CASE("visit totals: a database from before them gets them, counted from its records",
          "[client][totals][migration]") {
    test::TempDir dir;
    const History history(11);
    std::string before;
    {
        Engine engine = ok(Engine::open(dir / "a.db"));
        for (const storage::Event& e : history.events()) {
            apply(engine, e);
        }
        before = report_json(engine);
    }
    {
        // What a database written by the previous version looks like: no totals, no triggers,
        // no "totals" component.
        storage::Database raw = ok(storage::Database::open(dir / "a.db"));
        std::string drops;
        ok(raw.query("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND name LIKE"
                     " 'totals_%'")
               .each([&](const storage::Statement& s) {
                   drops += "DROP TRIGGER " + s.column_text(0) + ";";
               }));
        REQUIRE(drops.size() > 0);
        ok(raw.exec(drops + "DROP TABLE visit_totals; DROP TABLE visit_breakdowns;"
                            "DROP TABLE visit_lawyers; DROP TABLE visit_codes;"
                            "DELETE FROM caravan_schema WHERE component = 'totals';"));
    }
    Engine engine = ok(Engine::open(dir / "a.db"));
    CHECK(totals_match(engine));
    CHECK(report_json(engine) == before);
    check_report(engine);
}

TEST_CASE("visit totals: a database from their first version gets the visits' topics and "
          "outcomes, counted from its records",
          "[client][totals]") {
    test::TempDir dir;
    const History history(13);
    const auto count_codes = [](Engine& engine) {
        return ok(ok(engine.read_view())
                      .database()
                      .query("SELECT count(*) FROM visit_codes")
                      .one<std::int64_t>())
            .value_or(0);
    };
    std::int64_t codes = 0;
    {
        Engine engine = ok(Engine::open(dir / "a.db"));
        for (const storage::Event& e : history.events()) {
            apply(engine, e);
        }
        codes = count_codes(engine);
    }
    REQUIRE(codes > 0);
    {
        // Version 1 had no visit_codes (its triggers did not write it).
        storage::Database raw = ok(storage::Database::open(dir / "a.db"));
        ok(raw.exec("DROP TABLE visit_codes;"
                    "UPDATE caravan_schema SET version = 1 WHERE component = 'totals';"));
    }
    Engine engine = ok(Engine::open(dir / "a.db"));
    CHECK(totals_match(engine));
    CHECK(count_codes(engine) == codes);
    // Its triggers keep them again: another history's events (the same visits, records
    // created, edited, moved and deleted) leave them equal to the records.
    const History more(14);
    for (const storage::Event& e : more.events()) {
        apply(engine, e);
    }
    CHECK(totals_match(engine));
    CHECK(count_codes(engine) != codes);
}

TEST_CASE("visit totals: totals that no longer match the records are found by check and mended "
          "by a rebuild",
          "[client][totals][check]") {
    test::TempDir dir;
    const History history(5);
    Engine engine = ok(Engine::open(dir / "a.db"));
    for (const storage::Event& e : history.events()) {
        apply(engine, e);
    }
    const std::string report = report_json(engine);
    REQUIRE(ok(engine.check(dir.path())).projections_match);
    {
        storage::Database raw = ok(storage::Database::open(dir / "a.db"));
        ok(raw.exec("UPDATE visit_totals SET people = people + 3 WHERE visit_id ="
                    " (SELECT min(visit_id) FROM visit_totals)"));
    }
    CHECK_FALSE(totals_match(engine));
    ok(engine.rebuild_projections());
    CHECK(totals_match(engine));
    {
        // A visit's topic lost: the record browser would skip the visit.
        storage::Database raw = ok(storage::Database::open(dir / "a.db"));
        ok(raw.exec("DELETE FROM visit_codes WHERE field = 'topic' AND visit_id ="
                    " (SELECT min(visit_id) FROM visit_codes WHERE field = 'topic')"));
    }
    CHECK_FALSE(totals_match(engine));
    CHECK_FALSE(ok(engine.check(dir.path())).projections_match);
    ok(engine.rebuild_projections());
    CHECK(totals_match(engine));
    CHECK(ok(engine.check(dir.path())).projections_match);
    CHECK(report_json(engine) == report);
}
