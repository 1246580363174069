// Reading on a full disk, for real (a small tmpfs; root only, skipped otherwise): the commands
// that only read work, and an export that cannot be written says the disk is full in the
// user's language, without the library's own lines on stderr.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "damaged_db.hpp"
#include "process.hpp"
#include "small_disk.hpp"
#include "temp_dir.hpp"

using caravan::test::run_process;
using caravan::test::SmallDisk;
using caravan::test::TempDir;
namespace fs = std::filesystem;

namespace {

caravan::test::ProcessResult caravan_at(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {caravan::test::binary("caravan").string(), "--db", db.string()});
    return run_process(args, {});
}

} // namespace

TEST_CASE("disk full: consult list, status, check and exports still read the database",
          "[cli][disk-full]") {
    if (!caravan::test::can_mount()) {
        return;
    }
    TempDir dir;
    SmallDisk disk(dir / "disk", "4m");
    REQUIRE(disk.mounted());
    const fs::path db = disk.path() / "caravan.db";
    caravan::test::make_device_database(db, 40);
    REQUIRE(disk.fill() > 0);

    auto list = caravan_at(db, {"consult", "list", "--json"});
    INFO(list.err);
    REQUIRE(list.exit_code == 0);
    CHECK(nlohmann::json::parse(list.out).size() == 40);

    auto status = caravan_at(db, {"status"});
    INFO(status.err);
    CHECK(status.exit_code == 0);
    CHECK_THAT(status.out, Catch::Contains("consultations: 40"));

    auto check = caravan_at(db, {"check"});
    INFO(check.out << check.err);
    CHECK(check.exit_code == 0);

    // An export written elsewhere reads the full disk's database.
    auto csv = caravan_at(db, {"export", "journal", "--all", "-o", (dir / "j.csv").string()});
    INFO(csv.err);
    CHECK(csv.exit_code == 0);
    CHECK(fs::file_size(dir / "j.csv") > 0);
}

TEST_CASE("disk full: an export that cannot be written says the disk is full, in the user's "
          "language, and leaves nothing behind",
          "[cli][disk-full]") {
    if (!caravan::test::can_mount()) {
        return;
    }
    TempDir dir;
    SmallDisk disk(dir / "disk", "2m");
    REQUIRE(disk.mounted());
    const fs::path db = dir / "caravan.db"; // the database has room; the output does not
    caravan::test::make_device_database(db, 200, 4);

    for (const std::string format : {"xlsx", "csv"}) {
        INFO(format);
        const fs::path out = disk.path() / ("journal." + format);
        REQUIRE(disk.fill() > 0);
        // The disk fills at some point of the export (the sheet's temporary data, the zip,
        // the final file) depending on the room left: free it 16 KiB at a time until the
        // export fits, and check every failure on the way.
        int failures = 0;
        bool written = false;
        for (int step = 0; step < 128 && !written; ++step) {
            auto r =
                caravan_at(db, {"export", "journal", "--all", "-o", out.string(), "--lang", "ru"});
            INFO("room freed: " << step * 16 << " KiB; " << r.err);
            if (r.exit_code == 0) {
                written = true;
                break;
            }
            ++failures;
            CHECK(r.exit_code == 1);
            CHECK_THAT(r.err, Catch::Contains("диск заполнен"));
            CHECK(r.err.find("ZIP") == std::string::npos);
            CHECK(r.err.find("[ERROR]") == std::string::npos);
            CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1); // one line, ours
            CHECK(!fs::exists(out));
            std::size_t left = 0;
            for (const auto& entry : fs::directory_iterator(disk.path())) {
                left += entry.path().filename().string().rfind("filler", 0) == 0 ? 0 : 1;
            }
            CHECK(left == 0);
            disk.free_bytes(16 * 1024);
        }
        CHECK(failures > 0);
        CHECK(written);
        disk.free_space();
        fs::remove(out);
    }
}
