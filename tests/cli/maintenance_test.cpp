// caravan check / backup / restore through the real binary.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/storage/database.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using caravan::test::run_process;
using caravan::test::TempDir;

namespace {

caravan::test::ProcessResult caravan_cmd(const TempDir& dir, std::vector<std::string> args) {
    args.insert(args.begin(), caravan::test::binary("caravan").string());
    return run_process(args, {{"CARAVAN_DB", (dir / "device.db").string()}});
}

void record_visit(const TempDir& dir) {
    REQUIRE(caravan_cmd(dir, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."}).exit_code ==
            0);
    REQUIRE(caravan_cmd(dir, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."}).exit_code ==
            0);
    REQUIRE(caravan_cmd(dir, {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"})
                .exit_code == 0);
}

int consultations(const TempDir& dir) {
    auto r = caravan_cmd(dir, {"status", "--json"});
    REQUIRE(r.exit_code == 0);
    return nlohmann::json::parse(r.out).at("consultations").get<int>();
}

const std::vector<std::string> k_consult = {"consult", "add",   "--gender",   "female",
                                            "--age",   "33-45", "--category", "unemployed",
                                            "--topic", "land",  "--outcome",  "advice"};

} // namespace

TEST_CASE("check: a healthy database passes, a tampered projection is reported", "[cli]") {
    TempDir dir;
    record_visit(dir);
    REQUIRE(caravan_cmd(dir, k_consult).exit_code == 0);
    auto ok = caravan_cmd(dir, {"check", "--json"});
    CHECK(ok.exit_code == 0);
    CHECK(nlohmann::json::parse(ok.out).at("ok").get<bool>());

    // Change a projection row behind the engine's back: the rebuild no longer matches.
    {
        auto db = caravan::storage::Database::open(dir / "device.db");
        REQUIRE(db);
        REQUIRE(db->exec("UPDATE consultations SET outcome = 'case'"));
    }
    auto bad = caravan_cmd(dir, {"check"});
    CHECK(bad.exit_code == 1);
    CHECK(bad.out.find("DIFFER") != std::string::npos);
}

TEST_CASE("backup and restore: the backup is consistent and restore keeps the old database aside",
          "[cli]") {
    TempDir dir;
    record_visit(dir);
    REQUIRE(caravan_cmd(dir, k_consult).exit_code == 0);
    REQUIRE(caravan_cmd(dir, {"backup", (dir / "backup.db").string()}).exit_code == 0);
    REQUIRE(caravan_cmd(dir, k_consult).exit_code == 0);
    REQUIRE(consultations(dir) == 2);

    auto restored = caravan_cmd(dir, {"restore", (dir / "backup.db").string(), "--json"});
    REQUIRE(restored.exit_code == 0);
    CHECK(consultations(dir) == 1);
    // The database from before the restore still holds both consultations.
    auto aside = nlohmann::json::parse(restored.out).at("previous_kept_as").get<std::string>();
    auto old = caravan::client::Engine::open(aside);
    REQUIRE(old);
    CHECK(old->status()->consultations == 2);
    CHECK(caravan_cmd(dir, {"check"}).exit_code == 0);
}

TEST_CASE("restore: a file that is not a Caravan database is refused and nothing changes",
          "[cli]") {
    TempDir dir;
    record_visit(dir);
    REQUIRE(caravan_cmd(dir, k_consult).exit_code == 0);
    { std::ofstream(dir / "junk.db") << std::string(4096, 'j'); }
    auto r = caravan_cmd(dir, {"restore", (dir / "junk.db").string()});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("junk.db") != std::string::npos);
    CHECK(consultations(dir) == 1);
    CHECK(caravan_cmd(dir, {"restore", (dir / "missing.db").string()}).exit_code == 2);
}

TEST_CASE("permissions: the device database and its backups are readable by their owner only, "
          "even with a permissive umask",
          "[cli]") {
    // The database holds personal data and the device's sync token.
    TempDir dir;
    const mode_t old_mask = ::umask(0);
    record_visit(dir);
    auto backup = caravan_cmd(dir, {"backup", (dir / "copy.db").string()});
    ::umask(old_mask);
    REQUIRE(backup.exit_code == 0);
    namespace fs = std::filesystem;
    const auto group_or_others = fs::perms::group_all | fs::perms::others_all;
    for (const fs::path& file : {dir / "device.db", dir / "copy.db"}) {
        INFO(file);
        REQUIRE(fs::exists(file));
        CHECK((fs::status(file).permissions() & group_or_others) == fs::perms::none);
    }
    for (const char* suffix : {"-wal", "-shm"}) {
        fs::path side = dir / (std::string("device.db") + suffix);
        if (fs::exists(side)) {
            INFO(side);
            CHECK((fs::status(side).permissions() & group_or_others) == fs::perms::none);
        }
    }
}
