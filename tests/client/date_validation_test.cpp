// Dates typed by a lawyer or read from a journal (issue: "Messages that mislead"): the error
// says what is really wrong, and a visit cannot be dated in the future.

#include <catch2/catch.hpp>

#include <ctime>

#include "caravan/client/domain.hpp"
#include "caravan/client/messages.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::test;

namespace {

// Today's local date plus `days`, as YYYY-MM-DD.
std::string local_date(int days) {
    std::time_t t = std::time(nullptr) + days * 24 * 60 * 60;
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

} // namespace

TEST_CASE("dates: each kind of wrong date gets its own reason", "[client]") {
    // Regression: 1999 was "not a date of the form YYYY-MM-DD".
    auto year = client::validate_date("date", "1999-05-14");
    REQUIRE(!year);
    CHECK(year.error().message == "date: '1999-05-14': the year must be between 2000 and 2100");
    auto day = client::validate_date("date", "2023-02-29");
    REQUIRE(!day);
    CHECK(day.error().text == &client::msg::date_not_in_calendar);
    auto form = client::validate_date("date", "2024-5-1");
    REQUIRE(!form);
    CHECK(form.error().text == &client::msg::bad_date);
    CHECK(client::validate_date("date", "2024-02-29"));
    // Plan periods and filters may name future dates; events may not.
    CHECK(client::validate_date("to", "2099-12-31"));
    CHECK(client::validate_event_date("date", local_date(0)));
    CHECK(client::validate_event_date("date", local_date(1)));
    auto future = client::validate_event_date("date", local_date(3));
    REQUIRE(!future);
    CHECK(future.error().text == &client::msg::date_in_future);
    CHECK(client::localize(future.error(), client::Lang::kk).find("болашақтағы күн") !=
          std::string::npos);
}

TEST_CASE("dates: a visit dated in the future is refused and nothing is written", "[client]") {
    TempDir dir;
    auto engine = ok(client::Engine::open(dir / "d.db"));
    ok(engine.init("Арнат", "Ақтөбе обл."));
    client::VillageInput village;
    village.name = "Қызылжар";
    village.region = "Ақтөбе обл.";
    ok(engine.add_village(village));
    const auto before = ok(engine.status());
    // Regression: a visit dated 2030 was accepted silently.
    auto visit = engine.start_visit("Қызылжар", std::string("2030-05-14"));
    REQUIRE(!visit);
    CHECK(visit.error().code == ErrorCode::invalid_input);
    CHECK(visit.error().text == &client::msg::date_in_future);
    CHECK(ok(engine.status()).visits == before.visits);
    CHECK(engine.start_visit("Қызылжар", local_date(0)));
}
