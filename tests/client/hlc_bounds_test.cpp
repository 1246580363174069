// Clock arithmetic at its extremes, and the bound on how far ahead of this device's own wall
// clock a received clock value may pull the device's clock (issue 10, "one device's clock can
// stop every other device from ever syncing"; docs/sync-algorithm.md, clock rules).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "caravan/client/hlc.hpp"
#include "caravan/storage/database.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

constexpr std::int64_t k_int64_max = std::numeric_limits<std::int64_t>::max();
// The greatest wall-clock part a non-negative 64-bit value can carry (year 6429).
constexpr std::int64_t k_top_wall_ms = k_int64_max >> 16;
constexpr std::int64_t k_day_ms = 24LL * 3600 * 1000;

} // namespace

TEST_CASE("hlc bounds: from_parts never sets the sign bit, whatever the parts", "[client][hlc]") {
    CHECK(Hlc::from_parts(k_top_wall_ms, Hlc::k_logical_mask).value == k_int64_max);
    CHECK(Hlc::from_parts(k_top_wall_ms + 1, 0).value >= 0);
    CHECK(Hlc::from_parts(k_top_wall_ms + 1, 0) == Hlc::from_parts(k_top_wall_ms, 0));
    CHECK(Hlc::from_parts(k_int64_max, k_int64_max).value == k_int64_max);
    CHECK(Hlc::from_parts(-1, 0).value == 0);
    CHECK(Hlc::from_parts(std::numeric_limits<std::int64_t>::min(), -5).value == 0);
    // A logical part beyond 16 bits saturates rather than wrapping into the wall-clock part.
    CHECK(Hlc::from_parts(1000, 70000) == Hlc::from_parts(1000, Hlc::k_logical_mask));
}

TEST_CASE("hlc bounds: ticking the greatest clock value never overflows into the sign bit",
          "[client][hlc]") {
    // The reproduction: 7fffffffffffffff observed, then a local event.
    HlcClock clock;
    (void)clock.tick(test::k_field_day_ms);
    clock.observe(Hlc{k_int64_max});
    Hlc next = clock.tick(test::k_field_day_ms);
    CHECK(next.value >= 0);
    CHECK(next.to_hex() != "8000000000000000");
    CHECK(next.to_iso().front() != '-');
    // Max physical time with an exhausted counter: saturates.
    HlcClock top(Hlc::from_parts(k_top_wall_ms, Hlc::k_logical_mask));
    CHECK(top.tick(k_top_wall_ms).value >= 0);
    CHECK(top.tick(k_int64_max).value >= 0);
    // A physical clock beyond what 48 bits can carry.
    HlcClock wild;
    CHECK(wild.tick(k_int64_max).value >= 0);
    CHECK(wild.tick(k_int64_max).value >= 0);
}

TEST_CASE("hlc bounds: an exhausted counter below the top borrows the next millisecond",
          "[client][hlc]") {
    HlcClock clock(Hlc::from_parts(k_top_wall_ms - 1, Hlc::k_logical_mask));
    CHECK(clock.tick(0) == Hlc::from_parts(k_top_wall_ms, 0));
    CHECK(clock.tick(0) == Hlc::from_parts(k_top_wall_ms, 1));
}

TEST_CASE("hlc bounds: 16 hex digits above 7fffffffffffffff are refused, the top is read",
          "[client][hlc]") {
    CHECK_FALSE(Hlc::from_hex("8000000000000000"));
    CHECK_FALSE(Hlc::from_hex("ffffffffffffffff"));
    CHECK_FALSE(Hlc::from_hex("fffffffffffffff0"));
    auto top = Hlc::from_hex("7fffffffffffffff");
    REQUIRE(top);
    CHECK(top->value == k_int64_max);
    CHECK(top->to_hex() == "7fffffffffffffff");
    CHECK(top->wall_ms() == k_top_wall_ms);
    CHECK(top->logical() == Hlc::k_logical_mask);
    CHECK(top->to_iso().rfind("6429-", 0) == 0);
}

TEST_CASE("hlc bounds: a value with the sign bit is printed as the epoch, never a negative year",
          "[client][hlc]") {
    CHECK(Hlc{std::numeric_limits<std::int64_t>::min()}.to_iso().front() != '-');
    CHECK(Hlc{-1}.to_iso().front() != '-');
}

TEST_CASE("hlc bounds: a clock value received from years ahead does not move the device's "
          "clock, and the event is still applied",
          "[client][hlc]") {
    test::TempDir dir;
    test::SimDevice hostile(dir / "hostile.db", test::k_field_day_ms + 10LL * 365 * k_day_ms);
    test::start_field_day(*hostile, "Бөтен", "Алыс");
    test::SimDevice device(dir / "d.db", test::k_field_day_ms);
    test::start_field_day(*device);
    CHECK(test::deliver(*hostile, *device) > 0);
    CHECK(test::ok(device->find_village("Алыс")).name == "Алыс"); // applied, not lost

    auto c = test::ok(device->add_consultation(test::consultation_input("Жер телімі")));
    auto events = test::all_events(*device);
    REQUIRE(events.back().entity_id == c.id);
    CHECK(Hlc{events.back().hlc}.wall_ms() <= device.now() + k_day_ms);
}

TEST_CASE("hlc bounds: a clock value received within a day ahead still orders later edits after "
          "it",
          "[client][hlc]") {
    test::TempDir dir;
    test::SimDevice ahead(dir / "ahead.db", test::k_field_day_ms + 20LL * 3600 * 1000);
    test::start_field_day(*ahead, "Алда", "Алыс");
    test::SimDevice device(dir / "d.db", test::k_field_day_ms);
    test::start_field_day(*device);
    (void)test::deliver(*ahead, *device);
    std::int64_t highest = 0;
    for (const auto& e : test::all_events(*ahead)) {
        highest = std::max(highest, e.hlc);
    }
    (void)test::ok(device->add_consultation(test::consultation_input("Жер телімі")));
    CHECK(test::all_events(*device).back().hlc > highest);
}
