// The row helpers (Database::query, Statement::get<T>) and CARAVAN_TRY: typed rows, early
// stops, NULL as nullopt, errors as values, and a statement reset when done.

#include <catch2/catch.hpp>

#include "caravan/storage/database.hpp"
#include "must.hpp"

using namespace caravan;
using namespace caravan::storage;

namespace {

Database people() {
    Database db = must(Database::open(":memory:"));
    must(db.exec("CREATE TABLE people(name TEXT NOT NULL, age INTEGER, score REAL);"
                 "INSERT INTO people VALUES('Айгүл', 30, 1.5), ('Берік', NULL, NULL),"
                 " ('Дана', 41, 2.0);"));
    return db;
}

Result<std::int64_t> oldest(Database& db) {
    CARAVAN_TRY(age, db.query("SELECT max(age) FROM people").one<std::int64_t>());
    return age.value_or(0);
}

Result<std::int64_t> from_missing_table(Database& db) {
    CARAVAN_TRY_VOID(db.query("DELETE FROM nowhere").run());
    return 1;
}

} // namespace

TEST_CASE("query: rows are read typed, NULL as nullopt, with values bound in order", "[storage]") {
    Database db = people();
    std::vector<std::string> names;
    std::vector<std::optional<std::int64_t>> ages;
    must(db.query("SELECT name, age, score FROM people WHERE name <> ? ORDER BY name", "Дана")
             .each([&](const Statement& row) {
                 names.push_back(row.get<std::string>(0));
                 ages.push_back(row.get<std::optional<std::int64_t>>(1));
                 CHECK(row.get<std::optional<double>>(2).has_value() == ages.back().has_value());
             }));
    CHECK(names == std::vector<std::string>{"Айгүл", "Берік"});
    CHECK(ages == std::vector<std::optional<std::int64_t>>{30, std::nullopt});

    auto collected = must(db.query("SELECT age FROM people WHERE age IS NOT NULL ORDER BY age")
                              .collect([](const Statement& row) { return row.get<int>(0); }));
    CHECK(collected == std::vector<int>{30, 41});

    CHECK(must(db.query("SELECT age FROM people WHERE name = ?", "Берік").one<std::int64_t>()) ==
          std::nullopt);
    CHECK(must(db.query("SELECT age FROM people WHERE name = ?", "nobody").one<std::int64_t>()) ==
          std::nullopt);
    CHECK(must(oldest(db)) == 41);
}

TEST_CASE("query: a visitor stops early with false or with an error, and the statement is "
          "reset either way",
          "[storage]") {
    Database db = people();
    const std::string sql = "SELECT name FROM people ORDER BY name";
    int seen = 0;
    must(db.query(sql).each([&](const Statement&) { return ++seen < 2; }));
    CHECK(seen == 2);

    auto stopped = db.query(sql).each([&](const Statement&) -> Result<void> {
        return fail(ErrorCode::conflict, std::string("stop"));
    });
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().code == ErrorCode::conflict);

    // Reset: the same cached statement runs again from its first row, and the table can be
    // written (no read left open).
    std::string first;
    CHECK(
        must(db.query(sql).first([&](const Statement& row) { first = row.get<std::string>(0); })));
    CHECK(first == "Айгүл");
    must(db.query("DELETE FROM people WHERE name = ?", "Айгүл").run());
    CHECK(db.changes() == 1);
}

TEST_CASE("query: a statement that cannot be prepared is an error of the call that runs it",
          "[storage]") {
    Database db = people();
    auto missing = from_missing_table(db);
    REQUIRE_FALSE(missing);
    CHECK_FALSE(missing.error().message.empty());
    CHECK_FALSE(db.query("SELECT nothing FROM nowhere").one<std::string>());
}
