// A full disk, for real: the device database and the server's data directory on a small tmpfs
// the test mounts (root only; CI runs as root). The command that hits the full disk fails
// clearly, everything confirmed before is intact, and work resumes once space is freed.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"
#include "small_disk.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

std::vector<std::string> consult_args(const std::string& question) {
    return {"consult",    "add",     "--gender", "female",    "--age",  "33-45",      "--category",
            "unemployed", "--topic", "land",     "--outcome", "advice", "--question", question};
}

} // namespace

TEST_CASE("disk full: a consultation that does not fit fails clearly, earlier ones are intact and "
          "recording resumes once space is freed",
          "[e2e][disk-full]") {
    if (!can_mount()) {
        return;
    }
    TempDir dir;
    SmallDisk disk(dir / "disk", "4m");
    REQUIRE(disk.mounted());
    Laptop laptop(disk.path() / "caravan.db");
    laptop.must({"init", "--lawyer", "Арнат Ұлтанбаев", "--region", k_region});
    laptop.start_field_day();
    for (int i = 0; i < 5; ++i) {
        laptop.must(consult_args("сұрақ " + std::to_string(i)));
    }
    REQUIRE(disk.fill() > 0);

    // Until one fails: SQLite may still find room in pages it already has.
    std::string long_text(9000, 'a');
    int confirmed = 5;
    ProcessResult refused;
    for (int i = 0; i < 200; ++i) {
        refused = laptop.run(consult_args(long_text + std::to_string(i)));
        if (refused.exit_code != 0) {
            break;
        }
        ++confirmed;
    }
    INFO(describe(refused));
    REQUIRE(refused.exit_code == 1);
    CHECK(refused.signal == 0);
    CHECK_THAT(refused.err, Catch::Contains("full"));
    CHECK(refused.err.find(long_text.substr(0, 50)) == std::string::npos); // no record text

    disk.free_space();
    ProcessResult check = laptop.run({"check"});
    INFO(describe(check));
    CHECK(check.exit_code == 0);
    CHECK(laptop.must_json({"consult", "list"}).size() == static_cast<std::size_t>(confirmed));
    laptop.must(consult_args("after the disk was freed"));
    CHECK(laptop.must_json({"consult", "list"}).size() == static_cast<std::size_t>(confirmed + 1));
}

TEST_CASE("disk full on the server: a push is refused with 503 and nothing is lost, the device "
          "syncs everything once space is freed",
          "[e2e][disk-full]") {
    if (!can_mount()) {
        return;
    }
    TempDir dir;
    SmallDisk disk(dir / "disk", "6m");
    REQUIRE(disk.mounted());
    Server server(disk.path() / "server");
    Laptop laptop(dir / "laptop.db");
    laptop.setup(server, "Арнат Ұлтанбаев");
    laptop.start_field_day();
    laptop.must(consult_args("бірінші"));
    laptop.must_sync();

    REQUIRE(disk.fill() > 0);
    std::string long_text(9000, 'b');
    for (int i = 0; i < 60; ++i) {
        laptop.must(consult_args(long_text + std::to_string(i)));
    }
    ProcessResult full = laptop.sync({"--attempts", "1", "--json"});
    INFO(describe(full));
    CHECK(full.exit_code == 6);
    CHECK(full.signal == 0);
    CHECK_THAT(full.err, Catch::Contains("storage is full"));
    // The server stays up and healthy while full.
    ProcessResult again = laptop.sync({"--attempts", "1"});
    CHECK(again.signal == 0);

    disk.free_space();
    laptop.must_sync();
    require_exactly_once(server, {&laptop});
    ProcessResult verify = laptop.sync({"--verify", "--json"});
    INFO(describe(verify));
    REQUIRE(verify.exit_code == 0);
    CHECK(json::parse(verify.out)["verify"]["agree"] == true);
}
