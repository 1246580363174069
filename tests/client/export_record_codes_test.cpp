// The record browser's topic and outcome filters (caravan/client/export/records.hpp): a code that
// few visits hold is read from the visits visit_codes names, one that many hold by walking the
// visits in the list's order; either way every page holds exactly the matching rows in the
// list's order, each once. Over 2,100 visits, more than the few-visits bound (2,000), so both
// ways are taken.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "caravan/client/export/records.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/database.hpp"
#include "must.hpp"

using namespace caravan;
namespace ex = client::exports;

namespace {

struct Row {
    std::string id, date, visit, region;
    std::set<std::string> topics;
    std::optional<std::string> outcome;
    bool deleted = false;
    // The list's order is this key descending (undated rows have date '').
    [[nodiscard]] std::tuple<std::string, std::string, std::string> key() const {
        return {date, visit, id};
    }
};

std::string padded(int i) {
    char out[16];
    std::snprintf(out, sizeof out, "%05d", i);
    return out;
}

std::string json_list(const std::vector<std::string>& codes) {
    std::string out = "[";
    for (const std::string& c : codes) {
        out += (out.size() > 1 ? ",\"" : "\"") + c + "\"";
    }
    return out + "]";
}

constexpr int k_visits = 2100;

// 2,100 visits in two regions over 300 dates (seven visits a date), two consultations each:
//   topics: "land" at every visit (the walk), "family" at a third of them, "tax" at three
//   (one of whose "tax" consultations is deleted), "credit" at none;
//   outcomes: "advice" at every visit, "case" at half, "referred" at three, none on some
//   rows;
// and consultations of a visit not known here (undated: last in the list), one with "tax".
struct Programme {
    storage::Database db = must(storage::Database::open(":memory:"));
    std::vector<Row> rows;

    Programme() {
        must(client::Projector::install(db));
        must(client::search_index::install(db));
        must(client::visit_totals::install(db));
        must(db.exec("BEGIN"));
        must(db.exec("INSERT INTO villages(id, name, region, _created) VALUES"
                     " ('g1', 'Ақсу', 'Жамбыл обл.', 'x'), ('g2', 'Шоқан', 'Абай обл.', 'x')"));
        for (int i = 0; i < k_visits; ++i) {
            const std::string visit = "v" + padded(i);
            const int day = i % 300;
            const std::string date = "2024-" + padded(1 + day / 28).substr(3) + "-" +
                                     padded(1 + day % 28).substr(3);
            const bool first_region = i % 4 != 3;
            must(db.query("INSERT INTO visits(id, village_id, date, _created) VALUES(?, ?, ?, 'x')",
                          visit, std::string(first_region ? "g1" : "g2"), date)
                     .run());
            for (int j = 0; j < 2; ++j) {
                Row r;
                r.id = "c" + padded(i) + "-" + std::to_string(j);
                r.date = date;
                r.visit = visit;
                r.region = first_region ? "Жамбыл обл." : "Абай обл.";
                std::vector<std::string> topics;
                if (j == 0) {
                    topics = {"land"};
                    r.outcome = i % 2 == 0 ? "case" : "advice";
                } else {
                    topics = {"land"};
                    if (i % 3 == 0) {
                        topics.push_back("family");
                    }
                    if (i == 5 || i == 1000 || i == 2099) {
                        topics = {"tax", "tax"};
                        r.deleted = i == 1000;
                    }
                    if (i % 700 == 3) {
                        r.outcome = "referred";
                    } else if (i % 10 != 5) { // none here, where the first one says "advice"
                        r.outcome = "advice";
                    }
                }
                r.topics.insert(topics.begin(), topics.end());
                add(r, json_list(topics));
            }
        }
        for (int j = 0; j < 3; ++j) {
            Row r;
            r.id = "c-undated-" + std::to_string(j);
            r.visit = "v-unknown";
            r.topics = {j == 0 ? "tax" : "land"};
            r.outcome = "advice";
            add(r, json_list({*r.topics.begin()}));
        }
        must(db.exec("COMMIT"));
    }

    void add(const Row& r, const std::string& topics) {
        must(db.query("INSERT INTO consultations(id, visit_id, topics, outcome, deleted, _created)"
                      " VALUES(?, ?, ?, ?, ?, 'x')",
                      r.id, r.visit, topics, r.outcome, r.deleted ? 1 : 0)
                 .run());
        rows.push_back(r);
    }

    // The oracle: the visible rows the filter keeps, in the list's order.
    [[nodiscard]] std::vector<std::string> expected(const ex::RecordFilter& f) const {
        std::vector<const Row*> kept;
        for (const Row& r : rows) {
            if (r.deleted || (f.topic && !r.topics.count(*f.topic)) ||
                (f.outcome && r.outcome != f.outcome) ||
                (f.scope.region && r.region != *f.scope.region) ||
                (f.scope.from && (r.date.empty() || r.date < *f.scope.from))) {
                continue;
            }
            kept.push_back(&r);
        }
        std::sort(kept.begin(), kept.end(),
                  [](const Row* a, const Row* b) { return a->key() > b->key(); });
        std::vector<std::string> out;
        for (const Row* r : kept) {
            out.push_back(r->id);
        }
        return out;
    }
};

std::vector<std::string> all_pages(storage::Database& db, const ex::RecordFilter& filter,
                                   int limit) {
    std::vector<std::string> out;
    std::optional<ex::RecordCursor> after;
    do {
        auto page = must(ex::find_records(db, filter, after, limit));
        if (page.next) {
            REQUIRE(page.rows.size() == static_cast<std::size_t>(limit));
        }
        for (const auto& r : page.rows) {
            out.push_back(r.id);
        }
        after = page.next;
    } while (after);
    return out;
}

std::int64_t visits_with(storage::Database& db, const std::string& field,
                         const std::string& value) {
    return must(db.query("SELECT count(*) FROM visit_codes WHERE field = ? AND value = ?", field,
                         value)
                    .one<std::int64_t>())
        .value_or(0);
}

ex::RecordFilter filter(std::optional<std::string> topic, std::optional<std::string> outcome) {
    ex::RecordFilter f;
    f.topic = std::move(topic);
    f.outcome = std::move(outcome);
    return f;
}

} // namespace

TEST_CASE("record browser: topic and outcome filters held at few visits and at many find every "
          "matching row once, in the list's order",
          "[client][export]") {
    Programme p;
    auto& db = p.db;
    REQUIRE(must(client::visit_totals::matches_tables(db)));
    // Both ways are taken: codes held at more visits than the bound and at fewer.
    CHECK(visits_with(db, "topic", "land") > 2000);
    CHECK(visits_with(db, "outcome", "advice") > 2000);
    CHECK(visits_with(db, "topic", "tax") == 3); // two dated, one not known here
    CHECK(visits_with(db, "topic", "credit") == 0);
    CHECK(visits_with(db, "outcome", "referred") == 3);

    struct Case {
        const char* name;
        ex::RecordFilter filter;
        int limit;
    };
    std::vector<Case> cases = {
        {"a topic at few visits", filter("tax", std::nullopt), 1},
        {"a topic at no visit", filter("credit", std::nullopt), 50},
        {"an outcome at few visits", filter(std::nullopt, "referred"), 2},
        {"a topic at every visit", filter("land", std::nullopt), 500},
        {"an outcome at many visits", filter(std::nullopt, "case"), 97},
        {"a common topic, a rare outcome", filter("land", "referred"), 2},
        {"a topic at a third, an outcome at every visit", filter("family", "advice"), 61},
        {"two common codes", filter("land", "advice"), 500},
        {"a code that is not one", filter("tax'; --", std::nullopt), 50},
    };
    ex::RecordFilter regional = filter("family", std::nullopt);
    regional.scope.region = "Абай обл.";
    cases.push_back({"a region and a topic", regional, 13});
    ex::RecordFilter dated = filter("land", "referred");
    dated.scope.from = "2024-06-01";
    cases.push_back({"a period, a topic and an outcome", dated, 1});
    for (const Case& c : cases) {
        INFO(c.name);
        const std::vector<std::string> want = p.expected(c.filter);
        CHECK(all_pages(db, c.filter, c.limit) == want);
        CHECK(all_pages(db, c.filter, 7) == want);
    }
    CHECK(p.expected(filter("tax", std::nullopt)).size() == 3);
    CHECK(p.expected(filter("land", "referred")).size() == 3);
    CHECK(p.expected(filter("family", "advice")).size() > 500);
}

TEST_CASE("record browser: a topic held at few visits reads only the visits visit_codes names",
          "[client][export]") {
    Programme p;
    auto& db = p.db;
    const auto tax = p.expected(filter("tax", std::nullopt));
    REQUIRE(tax.size() == 3);
    // visit_codes no longer names visit v02099 for "tax": its consultation is not read (the
    // rows are still there, and a walk over every visit would find it).
    must(db.exec("DELETE FROM visit_codes WHERE field = 'topic' AND value = 'tax' AND"
                 " visit_id = 'v02099'"));
    const auto found = all_pages(db, filter("tax", std::nullopt), 50);
    CHECK(found == std::vector<std::string>(tax.begin() + 1, tax.end()));
    CHECK_FALSE(must(client::visit_totals::matches_tables(db)));
}

TEST_CASE("record browser: a link to the next page made before cursors carried the visit "
          "continues where its page ended",
          "[client][export]") {
    Programme p;
    auto& db = p.db;
    const ex::RecordFilter all;
    const std::vector<std::string> want = p.expected(all);
    // Seven visits share each date: a page of 3 ends inside a date.
    auto first = must(ex::find_records(db, all, std::nullopt, 3));
    REQUIRE(first.next);
    REQUIRE_FALSE(first.next->visit.empty());
    ex::RecordCursor old = *first.next;
    old.visit.clear();
    const auto with_visit = must(ex::find_records(db, all, first.next, 40));
    const auto without = must(ex::find_records(db, all, old, 40));
    std::vector<std::string> ids;
    for (const auto& r : without.rows) {
        ids.push_back(r.id);
    }
    CHECK(ids == std::vector<std::string>(want.begin() + 3, want.begin() + 43));
    REQUIRE(with_visit.rows.size() == without.rows.size());
    CHECK(with_visit.next->id == without.next->id);
}
