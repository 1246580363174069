// The conflicts page's reads (caravan/client/export/records.hpp): find_conflicts pages the
// projections' conflicts in the key's order, each row placed as record_place places it, and a
// region-scoped reading keeps exactly the conflicts whose record's region it accepts, counted.

#include <catch2/catch.hpp>

#include "caravan/client/export/records.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "must.hpp"

using namespace caravan;
namespace ex = client::exports;

TEST_CASE("conflict pages: every kind of record placed as record_place places it, scoped by "
          "region, paged in the key's order with every row once",
          "[client][export]") {
    auto db = must(storage::Database::open(":memory:"));
    must(client::Projector::install(db));
    must(db.exec(R"sql(
INSERT INTO villages(id, name, region, _created) VALUES('g1', 'Ақсу', 'Жамбыл обл.', 'x'),
  ('g2', 'Шоқан', 'Ақтөбе обл.', 'x');
INSERT INTO visits(id, village_id, date, _created) VALUES('v1', 'g1', '2024-05-14', 'x'),
  ('v2', 'g2', '2024-06-01', 'x');
INSERT INTO consultations(id, visit_id, _created) VALUES('c1', 'v1', 'x'), ('c2', 'v2', 'x'),
  ('c3', 'v9', 'x');
INSERT INTO attendance(id, visit_id, _created) VALUES('a1', 'v2', 'x');
INSERT INTO surveys(id, visit_id, _created) VALUES('s1', 'v1', 'x');
INSERT INTO photos(id, visit_id, _created) VALUES('p1', 'v2', 'x');
INSERT INTO devices(id, region, _created) VALUES('d1', 'Абай обл.', 'x');
)sql"));
    // Two conflicts on c1, a record of every kind, a consultation of a visit not known here and
    // records that do not exist.
    const std::vector<std::pair<std::string, std::string>> records = {
        {"consultation", "c1"}, {"consultation", "c2"}, {"consultation", "c3"},
        {"attendance", "a1"},   {"survey", "s1"},       {"photo", "p1"},
        {"visit", "v1"},        {"village", "g2"},      {"device", "d1"},
        {"consultation", "c0"}, {"village", "g9"},      {"device", "d9"}};
    int n = 0;
    for (const auto& [type, id] : records) {
        for (const char* field : {"advice", "question"}) {
            if (id == "c1" || std::string(field) == "advice") {
                must(db.query("INSERT INTO conflicts VALUES(?, ?, ?, ?, '\"x\"', ?, '\"y\"')", type,
                              id, field, "a" + std::to_string(n), "b" + std::to_string(n))
                         .run());
                ++n;
            }
        }
    }
    const auto key = [](const client::ConflictEntry& c) {
        return ex::ConflictKey{c.entity_type, c.entity_id, c.field, c.a_version, c.b_version};
    };

    const auto all = must(ex::find_conflicts(db, {}, std::nullopt, std::nullopt, 500));
    CHECK(all.total == n);
    CHECK(all.offset == 0);
    REQUIRE(all.rows.size() == static_cast<std::size_t>(n));
    int placed = 0;
    for (std::size_t i = 0; i < all.rows.size(); ++i) {
        const auto& row = all.rows[i];
        INFO(row.entry.entity_type << " " << row.entry.entity_id);
        if (i > 0) {
            CHECK(key(all.rows[i - 1].entry) < key(row.entry));
        }
        const auto one = must(ex::record_place(db, row.entry.entity_type, row.entry.entity_id));
        REQUIRE(one.has_value() == row.place.has_value());
        if (one) {
            ++placed;
            CHECK(row.place->region == one->region);
            CHECK(row.place->village == one->village);
            CHECK(row.place->date == one->date);
        }
        CHECK(row.entry.b_value == "\"y\"");
    }
    CHECK(placed == 9); // c1 twice, c2, a1, s1, p1, v1, g2, d1

    // Three a page, forward then back: every row once, in order, with its offset.
    std::vector<ex::ConflictKey> forward;
    std::optional<ex::ConflictKey> after;
    for (;;) {
        const auto page = must(ex::find_conflicts(db, {}, after, std::nullopt, 3));
        CHECK(page.offset == static_cast<std::int64_t>(forward.size()));
        if (page.rows.empty()) {
            break;
        }
        for (const auto& r : page.rows) {
            forward.push_back(key(r.entry));
        }
        after = forward.back();
    }
    std::vector<ex::ConflictKey> expected;
    for (const auto& r : all.rows) {
        expected.push_back(key(r.entry));
    }
    CHECK(forward == expected);
    const auto back = must(ex::find_conflicts(db, {}, std::nullopt, expected[5], 3));
    CHECK(back.offset == 2);
    REQUIRE(back.rows.size() == 3);
    CHECK(key(back.rows.front().entry) == expected[2]);
    CHECK(key(back.rows.back().entry) == expected[4]);

    // One region: its records' conflicts only (c2, a1, p1, g2), counted as such.
    const auto aqtobe = must(ex::find_conflicts(
        db, [](const std::string& region) { return region == "Ақтөбе обл."; }, std::nullopt,
        std::nullopt, 2));
    CHECK(aqtobe.total == 4);
    REQUIRE(aqtobe.rows.size() == 2);
    for (const auto& r : aqtobe.rows) {
        CHECK(r.place->region == std::optional<std::string>("Ақтөбе обл."));
    }
    const auto rest = must(ex::find_conflicts(
        db, [](const std::string& region) { return region == "Ақтөбе обл."; },
        key(aqtobe.rows.back().entry), std::nullopt, 2));
    CHECK(rest.offset == 2);
    CHECK(rest.rows.size() == 2);
}
