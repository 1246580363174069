// The record browser's pages at the store (client::exports::find_records, on the server's own
// database: server.db, or the PostgreSQL store's cache file): paging through consultations with
// dates shared by several visits gives every visible row exactly once, in the documented order
// (visit date, visit id, consultation id, each descending; consultations whose visit has no date
// here last), whatever the page size; every filter, alone and combined, gives exactly the rows of
// that order that match it; a push between two pages neither repeats nor loses a row.

#include <algorithm>
#include <set>
#include <tuple>

#include "caravan/client/export/records.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/text.hpp"
#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;
using nlohmann::json;
namespace server = caravan::test::server;
namespace ex = caravan::client::exports;

namespace {

// What the test knows of each consultation it pushed: the oracle the pages are checked against.
struct Known {
    std::string id, date, visit, region, village, topic, outcome, question;
    bool deleted = false;

    // The list's order: newest first (descending on all three).
    [[nodiscard]] std::tuple<const std::string&, const std::string&, const std::string&>
    key() const {
        return {date, visit, id};
    }
};

struct Visit {
    std::string id, date, region, village;
};

void push_all(server::Http& http, const server::Device& device,
              const std::vector<caravan::storage::Event>& events) {
    for (std::size_t from = 0; from < events.size(); from += 500) {
        const std::vector<caravan::storage::Event> part(
            events.begin() + static_cast<std::ptrdiff_t>(from),
            events.begin() + static_cast<std::ptrdiff_t>(std::min(from + 500, events.size())));
        REQUIRE(http.push(device.token, server::batch(device.id, part)).status == 200);
    }
}

// Every row of find_records for `filter` after `after` (none: from the start), `limit` a page,
// in order.
std::vector<std::string> all_pages(caravan::storage::Database& db, const ex::RecordFilter& filter,
                                   int limit, std::optional<ex::RecordCursor> after = {}) {
    std::vector<std::string> out;
    do {
        auto page = ex::find_records(db, filter, after, limit);
        REQUIRE(page);
        REQUIRE(page->rows.size() <= static_cast<std::size_t>(limit));
        // A page with a next page is full.
        if (page->next) {
            REQUIRE(page->rows.size() == static_cast<std::size_t>(limit));
        }
        for (const auto& r : page->rows) {
            out.push_back(r.id);
        }
        after = page->next;
    } while (after);
    return out;
}

// The oracle: the visible rows matching `keep`, in the list's order.
template <class Keep>
std::vector<std::string> expected(const std::vector<Known>& known, Keep keep) {
    std::vector<const Known*> rows;
    for (const Known& k : known) {
        if (!k.deleted && keep(k)) {
            rows.push_back(&k);
        }
    }
    std::sort(rows.begin(), rows.end(),
              [](const Known* a, const Known* b) { return a->key() > b->key(); });
    std::vector<std::string> out;
    for (const Known* k : rows) {
        out.push_back(k->id);
    }
    return out;
}

bool holds(const std::string& text, const std::string& words) {
    using caravan::client::fold_case;
    return fold_case(text).find(fold_case(words)) != std::string::npos;
}

// Two regions; twelve visits on four dates (three visits a date: ties broken by visit id); 2,400
// consultations spread over them (topics, outcomes, texts in patterns: "жер" in most, too many for
// the text index to narrow, "құдық" in a few), one in 13 deleted by a second device.
struct Programme {
    std::vector<Known> known;
    std::vector<Visit> visits;
};

Programme seed_programme(DashboardServer& s) {
    Programme p;
    server::Http http(s.port());
    const server::Device a = s.api().enroll({k_region_a});
    const server::Device b = s.api().enroll({k_region_b});
    server::Events ea(a.id), eb(b.id);
    std::vector<caravan::storage::Event> events_a{ea.self("Айгүл", k_region_a)};
    std::vector<caravan::storage::Event> events_b{eb.self("Дана", k_region_b)};
    const std::string aksu = server::new_id(), beskol = server::new_id(), shoqan = server::new_id();
    events_a.push_back(ea.village(aksu, "Ақсу", k_region_a));
    events_a.push_back(ea.village(beskol, "Бескөл", k_region_a));
    events_b.push_back(eb.village(shoqan, "Шоқан", k_region_b));
    const char* const dates[] = {"2024-03-01", "2024-05-14", "2024-05-20", "2024-07-02"};
    for (int i = 0; i < 12; ++i) {
        Visit v{server::new_id(), dates[(i * 5) % 4], i % 3 == 2 ? k_region_b : k_region_a,
                i % 3 == 0   ? "Ақсу"
                : i % 3 == 1 ? "Бескөл"
                             : "Шоқан"};
        const std::string& village = i % 3 == 0 ? aksu : i % 3 == 1 ? beskol : shoqan;
        auto& ev = v.region == k_region_a ? ea : eb;
        (v.region == k_region_a ? events_a : events_b)
            .push_back(ev.make("visit", v.id,
                               {{"village_id", village},
                                {"date", v.date},
                                {"lawyer", "Айгүл"},
                                {"closed", true},
                                {"deleted", false}}));
        p.visits.push_back(v);
    }
    const char* const topics[] = {"land", "family", "credit"};
    const char* const outcomes[] = {"advice", "referred", "document", "case"};
    for (int i = 0; i < 2400; ++i) {
        const Visit& v = p.visits[static_cast<std::size_t>((i * 7) % 12)];
        Known k{server::new_id(),      v.date, v.id, v.region, v.village, topics[i % 3],
                outcomes[(i / 3) % 4], ""};
        k.question = i % 97 == 0 ? "Құдық иесімен дау" : i % 10 == 9 ? "Алимент" : "Жер телімі";
        auto& ev = v.region == k_region_a ? ea : eb;
        (v.region == k_region_a ? events_a : events_b)
            .push_back(ev.make("consultation", k.id,
                               consultation_fields(v.id, k.topic, k.outcome, k.question)));
        p.known.push_back(std::move(k));
    }
    push_all(http, a, events_a);
    push_all(http, b, events_b);

    // Deletes by a second device of each region.
    const server::Device a2 = s.api().enroll({k_region_a});
    const server::Device b2 = s.api().enroll({k_region_b});
    server::Events ea2(a2.id), eb2(b2.id);
    std::vector<caravan::storage::Event> deletes_a{ea2.self("Болат", k_region_a)};
    std::vector<caravan::storage::Event> deletes_b{eb2.self("Ерлан", k_region_b)};
    for (std::size_t i = 0; i < p.known.size(); i += 13) {
        Known& k = p.known[i];
        k.deleted = true;
        auto& ev = k.region == k_region_a ? ea2 : eb2;
        auto e = ev.make("consultation", k.id, {{"deleted", true}}, "delete");
        // After every create (the creates' clocks are a second apart from the server's day).
        e.hlc = ((k_day_ms + 3'000'000 + static_cast<std::int64_t>(i)) << 16) | 1;
        (k.region == k_region_a ? deletes_a : deletes_b).push_back(e);
    }
    push_all(http, a2, deletes_a);
    push_all(http, b2, deletes_b);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    return p;
}

// Consultations whose visit has no date here, written into the projection directly (the server
// refuses a record whose parent it does not hold, so a push cannot make them; a database from
// before that rule, or a device's, can hold them): 5 of a visit not known here and 4 of a visit
// known only from an update.
void add_undated(caravan::storage::Database& db, Programme& p) {
    const std::string unknown = server::new_id(), partial = server::new_id();
    REQUIRE(db.query("INSERT INTO visits(id, lawyer) VALUES(?, 'Айгүл')", partial).run());
    for (int i = 0; i < 9; ++i) {
        const std::string& visit = i < 5 ? unknown : partial;
        Known k{server::new_id(), "", visit, "", "", "land", "advice", "Жер телімі"};
        REQUIRE(
            db.query("INSERT INTO consultations(id, visit_id, lawyer, topics, outcome, question,"
                     " advice, deleted, _created) VALUES(?, ?, 'Айгүл', '[\"land\"]', 'advice',"
                     " ?, 'өтініш', 0, 'x')",
                     k.id, visit, k.question)
                .run());
        p.known.push_back(std::move(k));
    }
}

// A server with the programme, and its store as the dashboard reads it (on PostgreSQL, a cache
// brought up to the feed).
struct Seeded {
    DashboardServer server;
    Programme p = seed_programme(server);
    decltype(server.api().store()) store = server.api().store();
    caravan::storage::Database& db = store->database();
    Seeded() { REQUIRE(store->refresh()); }
};

} // namespace

TEST_CASE("dashboard: record browser: paging through records with dates shared by several visits "
          "gives every row once, in the documented order, at any page size",
          "[dashboard]") {
    Seeded seeded;
    const Programme& p = seeded.p;
    auto& db = seeded.db;
    const auto everything = expected(p.known, [](const Known&) { return true; });
    REQUIRE(everything.size() == 2400 - 2400 / 13 - 1);
    for (const int limit : {50, 7, 500}) {
        INFO("page size " << limit);
        CHECK(all_pages(db, {}, limit) == everything);
    }
    // The first page starts at the newest date.
    auto first = ex::find_records(db, {}, std::nullopt, 50);
    REQUIRE(first);
    REQUIRE_FALSE(first->rows.empty());
    CHECK(first->rows.front().date == "2024-07-02");
}

TEST_CASE("dashboard: record browser: consultations whose visit has no date here come last, "
          "each once, and only where no region or period is asked for",
          "[dashboard][embedded-store]") {
    Seeded seeded;
    Programme& p = seeded.p;
    auto& db = seeded.db;
    add_undated(db, p);
    const auto everything = expected(p.known, [](const Known&) { return true; });
    for (const int limit : {50, 4, 1}) {
        INFO("page size " << limit);
        CHECK(all_pages(db, {}, limit) == everything);
    }
    ex::RecordFilter unknown_visit;
    unknown_visit.visit = p.known[p.known.size() - 9].visit;
    CHECK(all_pages(db, unknown_visit, 2) ==
          expected(p.known, [&](const Known& k) { return k.visit == *unknown_visit.visit; }));
    ex::RecordFilter region_a;
    region_a.scope.region = k_region_a;
    CHECK(all_pages(db, region_a, 50) ==
          expected(p.known, [](const Known& k) { return k.region == k_region_a; }));
    ex::RecordFilter words;
    words.text = "жер";
    CHECK(all_pages(db, words, 50) ==
          expected(p.known, [](const Known& k) { return holds(k.question, "жер"); }));
    // They come last, with an empty date and no place.
    std::optional<ex::RecordPage> tail;
    for (std::optional<ex::RecordCursor> after; !tail || tail->next; after = tail->next) {
        auto page = ex::find_records(db, {}, after, 500);
        REQUIRE(page);
        tail = std::move(*page);
    }
    REQUIRE(tail->rows.size() >= 9);
    for (auto it = tail->rows.end() - 9; it != tail->rows.end(); ++it) {
        CHECK(it->date.empty());
        CHECK(it->village.empty());
        CHECK(it->region.empty());
    }
    CHECK_FALSE((tail->rows.end() - 10)->date.empty());
}

TEST_CASE("dashboard: record browser: region, period, village, topic, outcome, words and visit "
          "combine, each page of them in the list's order",
          "[dashboard]") {
    Seeded seeded;
    const Programme& p = seeded.p;
    auto& db = seeded.db;
    const Visit& visit = p.visits[4];

    struct Case {
        std::string name;
        ex::RecordFilter filter;
        std::function<bool(const Known&)> keep;
    };
    std::vector<Case> cases;
    const auto filter = [](auto set) {
        ex::RecordFilter f;
        set(f);
        return f;
    };
    cases.push_back({"region", filter([](ex::RecordFilter& f) { f.scope.region = k_region_b; }),
                     [](const Known& k) { return k.region == k_region_b; }});
    cases.push_back(
        {"period", filter([](ex::RecordFilter& f) {
             f.scope.from = "2024-05-14";
             f.scope.to = "2024-05-20";
         }),
         [](const Known& k) { return k.date >= "2024-05-14" && k.date <= "2024-05-20"; }});
    cases.push_back({"village", filter([](ex::RecordFilter& f) { f.village = "БЕС"; }),
                     [](const Known& k) { return k.village == "Бескөл"; }});
    cases.push_back({"topic and outcome", filter([](ex::RecordFilter& f) {
                         f.topic = "family";
                         f.outcome = "case";
                     }),
                     [](const Known& k) { return k.topic == "family" && k.outcome == "case"; }});
    cases.push_back({"a common word (read in order)",
                     filter([](ex::RecordFilter& f) { f.text = "жер"; }),
                     [](const Known& k) { return holds(k.question, "жер"); }});
    cases.push_back({"a rare word (the text index)",
                     filter([](ex::RecordFilter& f) { f.text = "ҚҰДЫҚ"; }),
                     [](const Known& k) { return holds(k.question, "құдық"); }});
    cases.push_back({"region, village, topic and a common word", filter([](ex::RecordFilter& f) {
                         f.scope.region = k_region_a;
                         f.village = "ақ";
                         f.topic = "land";
                         f.text = "ЖЕР";
                     }),
                     [](const Known& k) {
                         return k.region == k_region_a && k.village == "Ақсу" &&
                                k.topic == "land" && holds(k.question, "жер");
                     }});
    cases.push_back({"period, outcome and a rare word", filter([](ex::RecordFilter& f) {
                         f.scope.from = "2024-05-01";
                         f.outcome = "advice";
                         f.text = "құдық";
                     }),
                     [](const Known& k) {
                         return k.date >= "2024-05-01" && k.outcome == "advice" &&
                                holds(k.question, "құдық");
                     }});
    cases.push_back(
        {"one visit and an outcome", filter([&](ex::RecordFilter& f) {
             f.visit = visit.id;
             f.outcome = "referred";
         }),
         [&](const Known& k) { return k.visit == visit.id && k.outcome == "referred"; }});
    cases.push_back({"no row", filter([](ex::RecordFilter& f) {
                         f.topic = "family";
                         f.village = "Шоқан";
                         f.outcome = "nothing";
                     }),
                     [](const Known&) { return false; }});
    for (const Case& c : cases) {
        INFO(c.name);
        const auto want = expected(p.known, c.keep);
        CHECK(all_pages(db, c.filter, 50) == want);
        CHECK(all_pages(db, c.filter, 3) == want);
        // Not vacuous: each filter keeps some rows and drops others (but the last).
        if (c.name != "no row") {
            CHECK_FALSE(want.empty());
            CHECK(want.size() < p.known.size() - 200);
        }
    }
    // The common word is too common for the text index: its rows are read in the list's order.
    CHECK_FALSE(caravan::client::search_index::candidates(db, "жер").value().has_value());
    CHECK(caravan::client::search_index::candidates(db, "құдық").value().has_value());
}

TEST_CASE("dashboard: record browser: rows pushed or deleted between two pages are neither "
          "repeated nor lost",
          "[dashboard]") {
    DashboardServer s;
    // Ids made now sort below every id made later: rows "older" than the cursor's.
    std::vector<std::string> early;
    for (int i = 0; i < 4; ++i) {
        early.push_back(server::new_id());
    }
    Programme p = seed_programme(s);
    auto store = s.api().store();
    REQUIRE(store->refresh());
    auto& db = store->database();
    ex::RecordFilter region_a;
    region_a.scope.region = k_region_a;
    const auto in_a = [](const Known& k) { return k.region == k_region_a; };
    const auto before = expected(p.known, in_a);

    auto first = ex::find_records(db, region_a, std::nullopt, 150);
    REQUIRE(first);
    REQUIRE(first->next);
    const ex::RecordCursor cursor = *first->next;
    const auto at = std::find_if(p.known.begin(), p.known.end(),
                                 [&](const Known& k) { return k.id == cursor.id; });
    REQUIRE(at != p.known.end());
    const Known cursor_row = *at;
    REQUIRE(cursor.date == cursor_row.date);
    REQUIRE(cursor.visit == cursor_row.visit);
    const Visit& cursor_visit = *std::find_if(p.visits.begin(), p.visits.end(),
                                              [&](const Visit& v) { return v.id == cursor.visit; });
    // The first visit of the list (the cursor, 150 rows on, is in it or after it).
    const Visit newest = *std::max_element(p.visits.begin(), p.visits.end(), [](auto& x, auto& y) {
        return std::tuple(x.region == k_region_a, x.date, x.id) <
               std::tuple(y.region == k_region_a, y.date, y.id);
    });

    // Meanwhile: new consultations before the cursor (the newest visit; the cursor's visit with
    // a higher id) and after it (the cursor's visit with a lower id; the oldest date), a new
    // visit on the cursor's date with a lower id, and rows of later pages deleted.
    auto village_id =
        db.query("SELECT village_id FROM visits WHERE id = ?", cursor_visit.id).one<std::string>();
    REQUIRE(village_id);
    REQUIRE(*village_id);
    server::Http http(s.port());
    const server::Device d = s.api().enroll({k_region_a});
    server::Events ev(d.id);
    std::vector<caravan::storage::Event> events{ev.self("Сәуле", k_region_a)};
    const auto add = [&](const std::string& id, const Visit& v) {
        p.known.push_back({id, v.date, v.id, v.region, v.village, "land", "advice", "Жаңа"});
        events.push_back(
            ev.make("consultation", id, consultation_fields(v.id, "land", "advice", "Жаңа")));
    };
    add(server::new_id(), newest);
    add(server::new_id(), cursor_visit);
    add(early[1], cursor_visit);
    const Visit& oldest = *std::find_if(p.visits.begin(), p.visits.end(), [](const Visit& v) {
        return v.date == "2024-03-01" && v.region == k_region_a;
    });
    add(server::new_id(), oldest);
    const Visit same_day{early[0], cursor_visit.date, k_region_a, cursor_visit.village};
    events.push_back(ev.make("visit", same_day.id,
                             {{"village_id", **village_id},
                              {"date", same_day.date},
                              {"lawyer", "Сәуле"},
                              {"closed", true},
                              {"deleted", false}}));
    add(early[2], same_day);
    add(server::new_id(), same_day);
    std::vector<std::string> gone;
    for (auto it = std::find(before.begin(), before.end(), cursor.id) + 1;
         it < before.end() && gone.size() < 3; it += 40) {
        gone.push_back(*it);
    }
    for (const std::string& id : gone) {
        for (Known& k : p.known) {
            if (k.id == id) {
                k.deleted = true;
            }
        }
        auto e = ev.make("consultation", id, {{"deleted", true}}, "delete");
        e.hlc = ((k_day_ms + 4'000'000 + static_cast<std::int64_t>(events.size())) << 16) | 1;
        events.push_back(e);
    }
    push_all(http, d, events);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    REQUIRE(store->refresh());

    // The next pages: exactly the rows that sort after the cursor now.
    const std::vector<std::string> rest = all_pages(db, region_a, 150, cursor);
    const auto key = std::tuple(cursor.date, cursor.visit, cursor.id);
    const auto want = expected(p.known, [&](const Known& k) {
        return in_a(k) && std::tuple(k.date, k.visit, k.id) < key;
    });
    CHECK(rest == want);
    // Every row of the first page and every row there was after it, less the deleted: once.
    std::vector<std::string> shown;
    for (const auto& r : first->rows) {
        shown.push_back(r.id);
    }
    shown.insert(shown.end(), rest.begin(), rest.end());
    CHECK(std::set<std::string>(shown.begin(), shown.end()).size() == shown.size());
    for (const std::string& id : before) {
        if (std::find(gone.begin(), gone.end(), id) == gone.end()) {
            CHECK(std::count(shown.begin(), shown.end(), id) == 1);
        }
    }
    // Not vacuous: the rows after the cursor arrived, those before it did not.
    CHECK(std::count(rest.begin(), rest.end(), early[1]) == 1);
    CHECK(std::count(rest.begin(), rest.end(), early[2]) == 1);
    CHECK(std::count(rest.begin(), rest.end(), p.known.back().id) == 1);
    CHECK(std::count(rest.begin(), rest.end(), p.known[p.known.size() - 6].id) == 0);
    CHECK(std::count(rest.begin(), rest.end(), p.known[p.known.size() - 5].id) == 0);
}
