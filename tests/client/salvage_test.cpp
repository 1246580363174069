// Salvage of a damaged device database: pages overwritten at random (seeded, bounded trials) on
// a database of about 2,000 events; every event whose pages were not touched comes back as it
// was, none is invented or duplicated, and the report's counts add up.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "caravan/client/engine.hpp"
#include "caravan/client/salvage.hpp"
#include "damaged_db.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::test;
namespace fs = std::filesystem;

namespace {

// For every row of the event log: the pages holding it (its leaf page and its overflow pages),
// from SQLite's own dbstat table, which walks the b-tree. Leaf pages in tree order hold the rows
// in rowid order; an overflow page's path names its leaf page and cell.
std::map<std::int64_t, std::set<std::int64_t>>
pages_of_events(const fs::path& db, const std::vector<storage::Event>& events) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> handle(raw, sqlite3_close);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw,
                               "SELECT pageno, pagetype, path, ncell FROM dbstat "
                               "WHERE name = 'events' ORDER BY path",
                               -1, &stmt, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> query(stmt, sqlite3_finalize);
    std::map<std::string, std::pair<std::int64_t, std::size_t>> leaves; // path: page, first row
    std::vector<std::pair<std::string, std::int64_t>> overflows;        // path, page
    std::size_t next_row = 0;
    std::map<std::int64_t, std::set<std::int64_t>> pages;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        std::int64_t page = sqlite3_column_int64(stmt, 0);
        std::string type = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
        std::string path = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 2));
        auto cells = static_cast<std::size_t>(sqlite3_column_int64(stmt, 3));
        if (type == "leaf") {
            leaves[path] = {page, next_row};
            for (std::size_t i = 0; i < cells; ++i) {
                REQUIRE(next_row + i < events.size());
                pages[events[next_row + i].log_position].insert(page);
            }
            next_row += cells;
        } else if (type == "overflow") {
            overflows.emplace_back(path, page);
        }
    }
    REQUIRE(next_row == events.size());
    for (const auto& [path, page] : overflows) {
        // "<leaf path><cell, 3 hex digits>+<overflow index, 6 hex digits>"
        auto plus = path.rfind('+');
        REQUIRE(plus != std::string::npos);
        REQUIRE(plus >= 3);
        std::string leaf_path = path.substr(0, plus - 3);
        std::size_t cell = std::stoul(path.substr(plus - 3, 3), nullptr, 16);
        REQUIRE(leaves.count(leaf_path) == 1);
        pages[events[leaves[leaf_path].second + cell].log_position].insert(page);
    }
    return pages;
}

// Every page of one b-tree (`sqlite_schema`, a table or an index), from dbstat.
std::set<std::int64_t> pages_of_tree(const fs::path& db, const std::string& name) {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> handle(raw, sqlite3_close);
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(raw, "SELECT pageno FROM dbstat WHERE name = ?", -1, &stmt,
                               nullptr) == SQLITE_OK);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> query(stmt, sqlite3_finalize);
    sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    std::set<std::int64_t> pages;
    while (sqlite3_step(stmt) == SQLITE_ROW) {
        pages.insert(sqlite3_column_int64(stmt, 0));
    }
    return pages;
}

std::string key_of(const storage::Event& e) {
    return e.device_id + "/" + std::to_string(e.seq);
}

} // namespace

TEST_CASE("salvage: pages damaged at random lose only the events on them, none is invented or "
          "duplicated, and the report's counts add up",
          "[client][salvage]") {
    TempDir dir;
    const fs::path original = dir / "original.db";
    // About 2,000 events, one in 25 large enough to need overflow pages.
    make_device_database(original, 1995, 25);
    std::vector<storage::Event> events;
    std::string device_id;
    {
        auto engine = ok(client::Engine::open(original));
        events = all_events(engine);
        device_id = ok(engine.device()).id;
    }
    REQUIRE(events.size() >= 1995);
    std::map<std::string, storage::Event> by_key;
    for (const auto& e : events) {
        by_key[key_of(e)] = e;
    }
    const auto pages = pages_of_events(original, events);
    const std::int64_t page_total = page_count(original);
    // The pages the device's identity is read from: the settings table's and the schema's
    // (where salvage finds that table). Damage there may lose it; anywhere else it must not.
    std::set<std::int64_t> identity_pages = pages_of_tree(original, "settings");
    for (std::int64_t page : pages_of_tree(original, "sqlite_schema")) {
        identity_pages.insert(page);
    }
    REQUIRE_FALSE(identity_pages.empty());
    int identity_trials = 0;

    std::mt19937 rng(20241205);
    const int trials = 8;
    std::int64_t recovered_total = 0, lost_total = 0;
    for (int trial = 0; trial < trials; ++trial) {
        const fs::path damaged = dir / ("damaged-" + std::to_string(trial) + ".db");
        const fs::path salvaged = dir / ("salvaged-" + std::to_string(trial) + ".db");
        fs::copy_file(original, damaged);
        // 1 to 4 pages of 4 KiB anywhere but the header page.
        std::set<std::int64_t> hit;
        const int count = 1 + static_cast<int>(rng() % 4);
        while (static_cast<int>(hit.size()) < count) {
            hit.insert(2 + static_cast<std::int64_t>(rng() % (page_total - 1)));
        }
        for (std::int64_t page : hit) {
            damage_page(damaged, page, rng);
        }
        std::ostringstream pages_hit;
        for (auto p : hit) {
            pages_hit << p << " ";
        }
        INFO("trial " << trial << ", pages damaged: " << pages_hit.str());

        auto report = client::salvage(damaged, salvaged);
        REQUIRE(report);
        auto engine = ok(client::Engine::open(salvaged));
        auto back = all_events(engine);

        std::set<std::string> seen;
        std::int64_t untouched = 0;
        for (const auto& e : back) {
            INFO(key_of(e));
            CHECK(seen.insert(key_of(e)).second); // not duplicated
            auto it = by_key.find(key_of(e));
            REQUIRE(it != by_key.end()); // not invented
            CHECK(it->second == e);      // as it was
        }
        for (const auto& e : events) {
            const auto& on = pages.at(e.log_position);
            bool touched = std::any_of(on.begin(), on.end(),
                                       [&](std::int64_t p) { return hit.count(p) != 0; });
            if (!touched) {
                ++untouched;
                INFO("event " << key_of(e) << " on undamaged pages");
                CHECK(seen.count(key_of(e)) == 1);
            }
        }
        CHECK(report->events_recovered == static_cast<std::int64_t>(back.size()));
        CHECK(report->events_recovered + report->events_invalid + report->events_lost ==
              static_cast<std::int64_t>(events.size()));
        const bool identity_hit = std::any_of(hit.begin(), hit.end(), [&](std::int64_t p) {
            return identity_pages.count(p) != 0;
        });
        if (!identity_hit) {
            ++identity_trials;
            CHECK(report->identity_recovered);
            CHECK(ok(engine.device()).id == device_id);
        }
        // The projections are rebuilt from the recovered events: the check agrees.
        CHECK(ok(engine.check(dir.path())).ok());
        std::cout << "salvage trial " << trial << ": pages damaged " << pages_hit.str() << "of "
                  << page_total << "; events " << events.size() << ", on undamaged pages "
                  << untouched << ", recovered " << report->events_recovered << ", invalid "
                  << report->events_invalid << ", lost " << report->events_lost << "\n";
        recovered_total += report->events_recovered;
        lost_total += report->events_invalid + report->events_lost;
    }
    std::cout << "salvage: " << trials << " trials, " << recovered_total << " events recovered, "
              << lost_total << " lost\n";
    // Not vacuous: most trials leave the identity's pages alone and must give it back.
    CHECK(identity_trials >= trials / 2);
}

TEST_CASE("salvage: a damaged header page and schema still give back the events on other pages",
          "[client][salvage]") {
    TempDir dir;
    const fs::path damaged = dir / "damaged.db";
    make_device_database(damaged, 300, 0);
    std::vector<storage::Event> events;
    {
        auto engine = ok(client::Engine::open(damaged));
        events = all_events(engine);
    }
    const auto pages = pages_of_events(damaged, events);
    // The header page and every other page of the schema (it outgrew page 1 with the text
    // index's tables and triggers): no table can be found by name.
    const auto schema = pages_of_tree(damaged, "sqlite_schema");
    REQUIRE(schema.count(1) == 1);
    std::mt19937 rng(1);
    for (std::int64_t page : schema) {
        damage_page(damaged, page, rng);
    }
    auto report = client::salvage(damaged, dir / "salvaged.db");
    REQUIRE(report);
    CHECK(!report->schema_found);
    CHECK(!report->identity_recovered);
    auto engine = ok(client::Engine::open(dir / "salvaged.db"));
    auto back = all_events(engine);
    std::size_t expected = 0;
    for (const auto& e : events) {
        bool untouched = true;
        for (std::int64_t page : pages.at(e.log_position)) {
            untouched = untouched && schema.count(page) == 0;
        }
        expected += untouched ? 1 : 0;
    }
    CHECK(back.size() == expected);
    std::cout << "salvage with the header page damaged: " << back.size() << " of " << events.size()
              << " events recovered\n";
}

TEST_CASE("salvage: the target must be new, and a failed salvage leaves no file",
          "[client][salvage]") {
    TempDir dir;
    make_device_database(dir / "a.db", 10, 0);
    { std::ofstream(dir / "exists.db") << "x"; }
    auto onto = client::salvage(dir / "a.db", dir / "exists.db");
    REQUIRE(!onto);
    CHECK(onto.error().code == ErrorCode::invalid_input);
    auto self = client::salvage(dir / "a.db", dir / "a.db");
    REQUIRE(!self);
    auto missing = client::salvage(dir / "none.db", dir / "new.db");
    REQUIRE(!missing);
    CHECK(!fs::exists(dir / "new.db"));
    CHECK(!fs::exists(dir / "none.db"));
    auto no_dir = client::salvage(dir / "a.db", dir / "no" / "new.db");
    REQUIRE(!no_dir);
    CHECK(!fs::exists(dir / "no"));
}
