// `caravan init --role coordinator`: a device with no home region; a lawyer's device still
// needs one.

#include <catch2/catch.hpp>

#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode;

TEST_CASE("cli init: a coordinator's device needs no region and status shows none", "[cli][init]") {
    for (auto mode : {Mode::in_process, Mode::binary}) {
        INFO(test::to_string(mode));
        test::TempDir dir;
        const auto db = dir / "c.db";
        auto made = test::run_cli_ok(
            mode, db, {"init", "--lawyer", "Гүлнар Сәрсенова", "--role", "coordinator"});
        CHECK_THAT(made.out, Catch::Contains(": Гүлнар Сәрсенова ("));

        auto status = test::run_cli_ok(mode, db, {"--lang", "ru", "status"});
        CHECK_THAT(status.out, Catch::StartsWith("устройство: Гүлнар Сәрсенова ("));
        auto doc = test::one_json_document(test::run_cli_ok(mode, db, {"--json", "status"}).out);
        CHECK(doc["device"]["lawyer"] == "Гүлнар Сәрсенова");
        CHECK(doc["device"]["region"].is_null());

        // A coordinator may still name a region; the lawyer's path is unchanged.
        const auto lawyer = dir / "l.db";
        test::run_cli_ok(mode, lawyer, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
        auto lawyer_status = test::run_cli_ok(mode, lawyer, {"status"});
        CHECK_THAT(lawyer_status.out, Catch::StartsWith("device: Арнат, Жамбыл обл. ("));
    }
}

TEST_CASE("cli init: a lawyer's device without --region is refused, in the chosen language, "
          "and nothing is created",
          "[cli][init]") {
    for (auto mode : {Mode::in_process, Mode::binary}) {
        INFO(test::to_string(mode));
        test::TempDir dir;
        const auto db = dir / "l.db";
        for (const auto& args : {std::vector<std::string>{"init", "--lawyer", "Арнат"},
                                 {"init", "--lawyer", "Арнат", "--role", "lawyer"}}) {
            auto r = test::run_cli(mode, db, args);
            CHECK(r.code == 2);
            CHECK_THAT(r.err, Catch::Contains("--region is required for a lawyer's device") &&
                                  Catch::Contains("--role coordinator"));
        }
        auto kk = test::run_cli(mode, db, {"--lang", "kk", "init", "--lawyer", "Арнат"});
        CHECK(kk.code == 2);
        CHECK_THAT(kk.err, Catch::Contains("--region: заңгердің құрылғысына міндетті"));
        auto bad_role = test::run_cli(mode, db, {"init", "--lawyer", "Арнат", "--role", "boss"});
        CHECK(bad_role.code == 2);
        CHECK_THAT(bad_role.err, Catch::Contains("--role"));
        CHECK_FALSE(std::filesystem::exists(db));
    }
}
