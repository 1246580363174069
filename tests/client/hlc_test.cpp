#include <catch2/catch.hpp>

#include <random>

#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

TEST_CASE("hlc: every tick is greater than the previous one, whatever the physical clock does",
          "[client][hlc]") {
    std::mt19937 rng(20240514);
    std::uniform_int_distribution<std::int64_t> jitter(-5000, 5000);
    HlcClock clock;
    std::int64_t now = test::k_field_day_ms;
    Hlc previous = clock.tick(now);
    for (int i = 0; i < 10000; ++i) {
        now += jitter(rng); // forwards, backwards, standing still
        Hlc next = clock.tick(now);
        REQUIRE(next > previous);
        REQUIRE(next.wall_ms() >= now);
        previous = next;
    }
}

TEST_CASE("hlc: ticks within one millisecond advance the logical counter", "[client][hlc]") {
    HlcClock clock;
    Hlc a = clock.tick(1000);
    Hlc b = clock.tick(1000);
    Hlc c = clock.tick(999); // physical clock stepped back
    CHECK(a == Hlc::from_parts(1000, 0));
    CHECK(b == Hlc::from_parts(1000, 1));
    CHECK(c == Hlc::from_parts(1000, 2));
    Hlc d = clock.tick(1001);
    CHECK(d == Hlc::from_parts(1001, 0));
}

TEST_CASE("hlc: an exhausted logical counter borrows the next millisecond", "[client][hlc]") {
    HlcClock clock(Hlc::from_parts(1000, Hlc::k_logical_mask));
    Hlc next = clock.tick(1000);
    CHECK(next == Hlc::from_parts(1001, 0));
    CHECK(next > Hlc::from_parts(1000, Hlc::k_logical_mask));
}

TEST_CASE("hlc: observing a timestamp from the far future moves every later tick past it",
          "[client][hlc]") {
    const std::int64_t now = test::k_field_day_ms;
    const Hlc remote = Hlc::from_parts(now + 10LL * 365 * 24 * 3600 * 1000, 7); // 10 years ahead
    HlcClock clock;
    (void)clock.tick(now);
    clock.observe(remote);
    CHECK(clock.last() == remote);
    Hlc next = clock.tick(now);
    CHECK(next > remote);
    CHECK(next == Hlc::from_parts(remote.wall_ms(), 8));
}

TEST_CASE("hlc: observing a timestamp from the past changes nothing", "[client][hlc]") {
    const std::int64_t now = test::k_field_day_ms;
    HlcClock clock;
    Hlc mine = clock.tick(now);
    clock.observe(Hlc::from_parts(now - 86400000, 3));
    CHECK(clock.last() == mine);
    CHECK(clock.tick(now + 1) == Hlc::from_parts(now + 1, 0));
}

TEST_CASE("hlc: hex form is 16 lowercase digits, round-trips, and sorts like the number",
          "[client][hlc]") {
    std::mt19937_64 rng(7);
    std::vector<Hlc> samples = {Hlc{0}, Hlc{1}, Hlc{0x7fffffffffffffff},
                                Hlc::from_parts(test::k_field_day_ms, 0),
                                Hlc::from_parts(test::k_field_day_ms, 0xffff)};
    for (int i = 0; i < 200; ++i) {
        samples.push_back(Hlc{static_cast<std::int64_t>(rng() >> 1)});
    }
    for (const Hlc& h : samples) {
        std::string hex = h.to_hex();
        REQUIRE(hex.size() == 16);
        REQUIRE(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
        auto back = Hlc::from_hex(hex);
        REQUIRE(back);
        REQUIRE(*back == h);
    }
    for (size_t i = 1; i < samples.size(); ++i) {
        const Hlc& a = samples[i - 1];
        const Hlc& b = samples[i];
        REQUIRE((a.to_hex() < b.to_hex()) == (a < b));
    }
}

TEST_CASE("hlc: malformed hex is refused", "[client][hlc]") {
    CHECK_FALSE(Hlc::from_hex(""));
    CHECK_FALSE(Hlc::from_hex("0123"));
    CHECK_FALSE(Hlc::from_hex("00000000000000000")); // 17 digits
    CHECK_FALSE(Hlc::from_hex("0000018F7A3B2C1D"));  // uppercase
    CHECK_FALSE(Hlc::from_hex("0000018f7a3b2c1g"));  // not hex
    CHECK_FALSE(Hlc::from_hex("8000000000000000"));  // sign bit
    CHECK(Hlc::from_hex("0000018f7a3b2c1d"));
}

TEST_CASE("hlc: iso form shows the wall-clock part in UTC", "[client][hlc]") {
    CHECK(Hlc::from_parts(test::k_field_day_ms + 123, 9).to_iso() == "2024-05-14T10:00:00.123Z");
}

TEST_CASE("hlc: an engine's events never go back in time, across restarts and a clock set back",
          "[client][hlc]") {
    test::TempDir dir;
    std::int64_t last_hlc = 0;
    {
        test::SimDevice device(dir / "d.db", test::k_field_day_ms);
        test::start_field_day(*device);
        last_hlc = test::all_events(*device).back().hlc;
    }
    // The laptop's clock was reset to a day earlier (dead CMOS battery).
    test::SimDevice device(dir / "d.db", test::k_field_day_ms - 86400000);
    auto c = test::ok(device->add_consultation(test::consultation_input("Жер телімі")));
    auto events = test::all_events(*device);
    REQUIRE(events.back().entity_id == c.id);
    CHECK(events.back().hlc > last_hlc);
    for (size_t i = 1; i < events.size(); ++i) {
        CHECK(events[i].hlc > events[i - 1].hlc);
        CHECK(events[i].seq == events[i - 1].seq + 1);
    }
}

TEST_CASE("ids: a v7 UUID carries its time, version and variant in the canonical lowercase form",
          "[client][ids]") {
    const std::int64_t ms = 0x0123456789ab;
    std::string id = client::uuid_v7(ms);
    REQUIRE(id.size() == 36);
    CHECK(client::is_uuid(id));
    CHECK(id.substr(0, 13) == "01234567-89ab");
    CHECK(id[8] == '-');
    CHECK(id[13] == '-');
    CHECK(id[14] == '7'); // version
    CHECK(id[18] == '-');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos); // variant 10xx
    CHECK(id[23] == '-');
    CHECK(id.find_first_not_of("0123456789abcdef-") == std::string::npos);
    CHECK(client::uuid_v7(ms) != id);
    CHECK(client::uuid_from_key("village", "a") == client::uuid_from_key("village", "a"));
    CHECK(client::is_uuid(client::uuid_from_key("village", "a")));
}
