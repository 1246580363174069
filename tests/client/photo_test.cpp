#include <catch2/catch.hpp>

#include <fstream>

#include "caravan/client/ids.hpp"
#include "engine_helpers.hpp"
#include "jpeg_exif.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

std::filesystem::path write_file(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out << bytes;
    out.close();
    REQUIRE(out);
    return path;
}

PhotoInput photos(std::vector<std::filesystem::path> files) {
    PhotoInput in;
    in.files = std::move(files);
    in.caption = "Семинар, Қызылжар ауылы";
    in.consent = true;
    return in;
}

} // namespace

TEST_CASE("photos: EXIF time and GPS position are read from the file", "[client][photo]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    auto visit = test::start_field_day(*device);
    const std::string bytes = test::make_jpeg({});
    auto file = write_file(dir / "IMG_0001.JPG", bytes);

    auto added = ok(device->add_photos(photos({file})));
    REQUIRE(added.size() == 1);
    const Photo& p = added[0].photo;
    CHECK_FALSE(added[0].duplicate);
    CHECK(p.visit_id == visit.id);
    CHECK(p.sha256 == sha256_hex(bytes));
    CHECK(p.size == static_cast<std::int64_t>(bytes.size()));
    CHECK(p.file_name == std::optional<std::string>("IMG_0001.JPG"));
    CHECK(p.taken_at == std::optional<std::string>("2024-05-14T10:31:02"));
    REQUIRE(p.lat);
    REQUIRE(p.lon);
    CHECK(*p.lat == Approx(43.0 + 15.0 / 60 + 30.5 / 3600).epsilon(1e-9));
    CHECK(*p.lon == Approx(76.95).epsilon(1e-9));
    CHECK(p.caption == std::optional<std::string>("Семинар, Қызылжар ауылы"));
    CHECK(p.consent);
    CHECK(ok(device->status()).photos == 1);
}

TEST_CASE("photos: southern and western references give negative coordinates", "[client][photo]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    test::ExifSpec spec;
    spec.lat_ref = 'S';
    spec.lon_ref = 'W';
    spec.date_time_original = "2023:12:31 23:59:59";
    auto file = write_file(dir / "south.jpg", test::make_jpeg(spec));
    auto p = ok(device->add_photos(photos({file})))[0].photo;
    REQUIRE(p.lat);
    CHECK(*p.lat < -43.2);
    CHECK(*p.lon < -76.9);
    CHECK(p.taken_at == std::optional<std::string>("2023-12-31T23:59:59"));
}

TEST_CASE("photos: without EXIF the file's time is used and no position is invented",
          "[client][photo]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    test::ExifSpec spec;
    spec.date_time_original.clear();
    spec.gps = false;
    auto file = write_file(dir / "plain.jpg", test::make_jpeg(spec));
    auto p = ok(device->add_photos(photos({file})))[0].photo;
    CHECK_FALSE(p.lat);
    CHECK_FALSE(p.lon);
    REQUIRE(p.taken_at);
    CHECK(p.taken_at->size() == 19); // YYYY-MM-DDTHH:MM:SS from the file's mtime
}

TEST_CASE("photos: the same file added twice is recorded once", "[client][photo]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    auto file = write_file(dir / "IMG_0001.JPG", test::make_jpeg({}));
    auto first = ok(device->add_photos(photos({file})));
    REQUIRE(first.size() == 1);
    CHECK_FALSE(first[0].duplicate);
    const auto events_after_first = test::event_count(*device);

    auto second = ok(device->add_photos(photos({file})));
    REQUIRE(second.size() == 1);
    CHECK(second[0].duplicate);
    CHECK(second[0].photo.id == first[0].photo.id);

    // A copy under another name has the same content: the same photo.
    std::filesystem::copy_file(file, dir / "copy of IMG_0001.JPG");
    auto copy = ok(device->add_photos(photos({dir / "copy of IMG_0001.JPG"})));
    CHECK(copy[0].duplicate);

    // The same file twice in one call.
    test::ExifSpec other;
    other.comment = "another image";
    auto file2 = write_file(dir / "IMG_0002.JPG", test::make_jpeg(other));
    auto both = ok(device->add_photos(photos({file2, file2})));
    REQUIRE(both.size() == 2);
    CHECK_FALSE(both[0].duplicate);
    CHECK(both[1].duplicate);

    CHECK(ok(device->status()).photos == 2);
    CHECK(test::event_count(*device) == events_after_first + 1);
}

TEST_CASE("photos: one unreadable file records nothing", "[client][photo]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    auto good = write_file(dir / "IMG_0001.JPG", test::make_jpeg({}));
    const auto events_before = test::event_count(*device);
    for (const auto& bad : {dir / "missing.jpg", dir.path()}) {
        auto result = device->add_photos(photos({good, bad}));
        REQUIRE_FALSE(result);
        CHECK(result.error().code == ErrorCode::invalid_input);
        CHECK_THAT(result.error().message, Catch::Contains("photo"));
    }
    CHECK(test::event_count(*device) == events_before);
    CHECK(ok(device->status()).photos == 0);
}
