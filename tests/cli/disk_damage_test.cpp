// A damaged or missing device database, through the real binary: only `init` creates a file,
// `check` says DAMAGED, `restore` replaces a damaged file (kept aside), `backup` refuses one, and
// `salvage` recovers what can be read into a new file.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "damaged_db.hpp"
#include "process.hpp"
#include "temp_dir.hpp"

using caravan::test::run_process;
using caravan::test::TempDir;
namespace fs = std::filesystem;

namespace {

caravan::test::ProcessResult caravan_at(const fs::path& db, std::vector<std::string> args,
                                        std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), {caravan::test::binary("caravan").string(), "--db", db.string()});
    return run_process(args, env);
}

std::string bytes_of(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

// A device database of 120 consultations (every 10th with a long question) with two pages in
// its middle overwritten. Returns the number of events it held.
std::int64_t make_damaged(const fs::path& db, const fs::path* backup = nullptr) {
    std::int64_t events = caravan::test::make_device_database(db, 120, 10);
    if (backup) {
        REQUIRE(caravan_at(db, {"backup", backup->string()}).exit_code == 0);
    }
    std::mt19937 rng(7);
    REQUIRE(caravan::test::page_count(db) > 20);
    // Two pages in the middle of the consultations' table (pages in use, whatever the schema).
    const std::vector<std::int64_t> pages = caravan::test::pages_of(db, "consultations");
    REQUIRE(pages.size() > 4);
    caravan::test::damage_page(db, pages[pages.size() / 2], rng);
    caravan::test::damage_page(db, pages[pages.size() / 2 + 1], rng);
    return events;
}

} // namespace

TEST_CASE("missing database: every command but init says not initialised, exits 2 and leaves no "
          "file",
          "[cli][disk]") {
    TempDir dir;
    const fs::path db = dir / "typo.db";
    const std::vector<std::vector<std::string>> commands = {
        {"status"},
        {"consult", "list"},
        {"check"},
        {"village", "list"},
        {"conflicts"},
        {"backup", (dir / "copy.db").string()},
        {"salvage", (dir / "new.db").string()},
    };
    for (const auto& args : commands) {
        INFO(args.front());
        auto r = caravan_at(db, args);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Catch::Contains("not initialised"));
        CHECK(files_in(dir.path()).empty());
    }
}

TEST_CASE("init: a database path in a missing directory is refused and nothing is created",
          "[cli][disk]") {
    TempDir dir;
    auto r = caravan_at(dir / "no" / "such" / "x.db",
                        {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("does not exist"));
    CHECK(!fs::exists(dir / "no"));

    // The same through CARAVAN_DB.
    auto env = run_process({caravan::test::binary("caravan").string(), "init", "--lawyer", "Арнат",
                            "--region", "Ақтөбе обл."},
                           {{"CARAVAN_DB", (dir / "gone" / "x.db").string()}});
    CHECK(env.exit_code == 2);
    CHECK(!fs::exists(dir / "gone"));
}

TEST_CASE("init: the default location's directory is created on first use, owner only",
          "[cli][disk]") {
    TempDir dir;
    const std::map<std::string, std::string> env = {{"CARAVAN_DB", ""},
                                                    {"XDG_DATA_HOME", (dir / "xdg").string()}};
    auto r = run_process({caravan::test::binary("caravan").string(), "init", "--lawyer", "Арнат",
                          "--region", "Ақтөбе обл."},
                         env);
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(fs::exists(dir / "xdg" / "caravan" / "caravan.db"));
    CHECK((fs::status(dir / "xdg" / "caravan").permissions() &
           (fs::perms::group_all | fs::perms::others_all)) == fs::perms::none);
    CHECK(run_process({caravan::test::binary("caravan").string(), "status"}, env).exit_code == 0);
}

TEST_CASE("check: a damaged database is reported DAMAGED with the way out, exit 1", "[cli][disk]") {
    TempDir dir;
    make_damaged(dir / "device.db");
    auto r = caravan_at(dir / "device.db", {"check"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.out, Catch::Contains("file integrity: DAMAGED"));
    CHECK_THAT(r.out + r.err, Catch::Contains("caravan salvage"));
    auto j = caravan_at(dir / "device.db", {"check", "--json"});
    CHECK(j.exit_code == 1);
    auto doc = nlohmann::json::parse(j.out);
    CHECK(doc.at("ok") == false);
    CHECK(!doc.at("integrity_problems").empty());
}

TEST_CASE("restore: a damaged current database is replaced by the backup and kept aside, never "
          "deleted",
          "[cli][disk]") {
    TempDir dir;
    const fs::path db = dir / "device.db";
    const fs::path backup = dir / "good.db";
    make_damaged(db, &backup);
    const std::string damaged = bytes_of(db);

    auto r = caravan_at(db, {"restore", backup.string(), "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto aside = nlohmann::json::parse(r.out).at("previous_kept_as").get<std::string>();
    CHECK(aside.find("damaged") != std::string::npos);
    REQUIRE(fs::exists(aside));
    CHECK(bytes_of(aside) == damaged);
    CHECK(caravan_at(db, {"check"}).exit_code == 0);
    auto st = caravan_at(db, {"status", "--json"});
    REQUIRE(st.exit_code == 0);
    CHECK(nlohmann::json::parse(st.out).at("consultations") == 120);

    // In words, too.
    make_damaged(dir / "second.db", nullptr);
    auto text = caravan_at(dir / "second.db", {"restore", backup.string()});
    CHECK(text.exit_code == 0);
    CHECK_THAT(text.out, Catch::Contains("damaged"));
}

TEST_CASE("backup: a damaged database is refused with the way to salvage and no file is left",
          "[cli][disk]") {
    TempDir dir;
    make_damaged(dir / "device.db");
    auto r = caravan_at(dir / "device.db", {"backup", (dir / "copy.db").string()});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("caravan salvage"));
    CHECK(!fs::exists(dir / "copy.db"));
    CHECK(!fs::exists(dir / "copy.db.partial"));
}

TEST_CASE("salvage: the readable events of a damaged database go into a new file, identity kept, "
          "the damaged file untouched",
          "[cli][disk]") {
    TempDir dir;
    const fs::path db = dir / "device.db";
    std::string device_id;
    const std::int64_t events = make_damaged(db);
    {
        // The identity as it was (read from the undamaged settings page through SQL).
        caravan::client::EngineOptions options;
        options.integrity_check = false;
        auto engine = caravan::client::Engine::open(db, options);
        REQUIRE(engine);
        auto device = engine->device();
        REQUIRE(device);
        device_id = device->id;
    }
    const std::string damaged = bytes_of(db);

    auto r = caravan_at(db, {"salvage", (dir / "new.db").string(), "--json"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    auto report = nlohmann::json::parse(r.out);
    const auto recovered = report.at("events_recovered").get<std::int64_t>();
    const auto lost = report.at("events_lost").get<std::int64_t>();
    const auto invalid = report.at("events_invalid").get<std::int64_t>();
    CHECK(recovered > events / 2);
    CHECK(recovered + lost + invalid == events);
    CHECK(report.at("identity_recovered") == true);
    CHECK(bytes_of(db) == damaged);
    CHECK(r.out.find("сұрақ") == std::string::npos); // no record text in the report

    CHECK(caravan_at(dir / "new.db", {"check"}).exit_code == 0);
    auto st = caravan_at(dir / "new.db", {"status", "--json"});
    REQUIRE(st.exit_code == 0);
    auto status = nlohmann::json::parse(st.out);
    CHECK(status.at("device").at("id") == device_id);
    CHECK(status.at("consultations").get<int>() > 0);

    // In words: counts and the next step.
    auto words = caravan_at(db, {"salvage", (dir / "words.db").string()});
    CHECK(words.exit_code == 0);
    CHECK_THAT(words.out, Catch::Contains(std::to_string(recovered)));
    CHECK_THAT(words.out, Catch::Contains("caravan restore"));

    // Never onto an existing file, never onto the damaged one.
    const std::string before = bytes_of(dir / "new.db");
    CHECK(caravan_at(db, {"salvage", (dir / "new.db").string()}).exit_code == 2);
    CHECK(bytes_of(dir / "new.db") == before);
    CHECK(caravan_at(db, {"salvage", db.string()}).exit_code == 2);
    CHECK(bytes_of(db) == damaged);
}
