// Where a conflict's record belongs (caravan/client/export/records.hpp): conflict_places, the
// one read for every record the conflicts table names, gives exactly record_place's answer for
// each of them, of every kind, and leaves out those without a place.

#include <catch2/catch.hpp>

#include "caravan/client/export/records.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "must.hpp"

using namespace caravan;
namespace ex = client::exports;

TEST_CASE("record place: the places of every conflicted record in one read are record_place's",
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
    // Two conflicts on c1 (one place), a record of every kind, a consultation of a visit not
    // known here and records that do not exist.
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
    const auto places = must(ex::conflict_places(db));
    std::size_t placed = 0;
    for (const auto& [type, id] : records) {
        INFO(type << " " << id);
        const auto one = must(ex::record_place(db, type, id));
        const auto it = places.find({type, id});
        REQUIRE(one.has_value() == (it != places.end()));
        if (one) {
            ++placed;
            CHECK(it->second.region == one->region);
            CHECK(it->second.village == one->village);
            CHECK(it->second.date == one->date);
        }
    }
    CHECK(places.size() == placed);
    // Not vacuous: most have a place, of every kind; the unknown ones have none.
    CHECK(placed == 8);
    CHECK(places.at({"consultation", "c2"}).region == std::optional<std::string>("Ақтөбе обл."));
    CHECK(places.at({"device", "d1"}).village == std::nullopt);
}
