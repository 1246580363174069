// The device keeps its own copy of every photo it records, named by content, so that the record
// never names a file that left with a camera card (and the app, which gets bytes, has a file).
#include <fstream>

#include <catch2/catch.hpp>

#include "engine_helpers.hpp"
#include "jpeg_exif.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using caravan::test::ok;

TEST_CASE("photos: each recorded photo is copied once into the device's photo folder, by hash") {
    test::TempDir dir;
    test::SimDevice device(dir.path() / "laptop" / "caravan.db", test::k_field_day_ms);
    test::start_field_day(*device);
    const auto card = dir.path() / "card";
    std::filesystem::create_directories(card);
    std::ofstream(card / "IMG_0001.JPG", std::ios::binary) << test::make_jpeg({});
    std::ofstream(card / "IMG_0002.jpg", std::ios::binary) << test::make_jpeg({}); // same bytes
    PhotoInput input;
    input.files = {card / "IMG_0001.JPG", card / "IMG_0002.jpg"};
    auto added = ok(device->add_photos(input));
    REQUIRE(added.size() == 2);
    CHECK(added[1].duplicate);
    const std::string sha = added[0].photo.sha256;
    const auto copy = device->photo_copy(sha);
    REQUIRE(copy);
    CHECK(copy->parent_path() == dir.path() / "laptop" / "photos");
    CHECK(copy->filename() == sha + ".jpg");
    CHECK(test::read_file(*copy) == test::read_file(card / "IMG_0001.JPG"));
    // The card goes; the record's file stays.
    std::filesystem::remove_all(card);
    CHECK(std::filesystem::exists(*copy));
    std::size_t files = 0;
    for (const auto& e : std::filesystem::directory_iterator(device->photo_folder())) {
        (void)e;
        ++files;
    }
    CHECK(files == 1);
    CHECK_FALSE(device->photo_copy(std::string(64, 'a')));
    CHECK_FALSE(device->photo_copy("../../etc/passwd"));
}

TEST_CASE("photos: a copy that cannot be made records nothing") {
    test::TempDir dir;
    test::SimDevice device(dir.path() / "caravan.db", test::k_field_day_ms);
    test::start_field_day(*device);
    std::ofstream(dir.path() / "IMG.jpg", std::ios::binary) << test::make_jpeg({});
    // The photo folder's place is taken by a file: no copy can be made there.
    std::ofstream(dir.path() / "photos") << "not a folder";
    PhotoInput input;
    input.files = {dir.path() / "IMG.jpg"};
    auto added = device->add_photos(input);
    REQUIRE_FALSE(added);
    CHECK(added.error().code == ErrorCode::io);
    CHECK(ok(device->status()).photos == 0);
}
