// `consult list --json` prints exactly one JSON document whether it succeeds or fails: a
// listing that fails before or after its first row prints the error document alone, never a
// partial array followed by the error (regression: two documents on stdout).

#include <catch2/catch.hpp>

#include "caravan/storage/database.hpp"
#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

void record_two_consultations(const std::filesystem::path& db) {
    test::init_device_at_visit(db);
    for (const char* question : {"first", "second"}) {
        run_cli_ok(Mode::in_process, db,
                   {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                    "unemployed", "--topic", "land", "--outcome", "case", "--question", question});
    }
}

// The only document on stdout is an error document with `code`.
void require_error_document_only(const test::Outcome& r, const std::string& code) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    CHECK(r.code != 0);
    auto doc = test::one_json_document(r.out);
    REQUIRE(doc.is_object());
    REQUIRE(doc.contains("error"));
    CHECK(doc["error"]["code"] == code);
}

} // namespace

TEST_CASE("consult list --json: a listing that fails before its first row prints only the "
          "error document",
          "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    record_two_consultations(db);
    for (Mode mode : {Mode::in_process, Mode::binary}) {
        INFO(test::to_string(mode));
        auto r = run_cli(mode, db, {"--json", "consult", "list", "--region", "Nowhere"});
        require_error_document_only(r, "not_found");
    }
}

TEST_CASE("consult list --json: a row that fails part-way prints only the error document, no "
          "partial array",
          "[cli]") {
    test::TempDir dir;
    const auto db = dir / "device.db";
    record_two_consultations(db);
    {
        // A second row that cannot be written as JSON (bytes that are not UTF-8, as only a
        // damaged file could hold): the listing fails after the first row was read.
        auto raw = storage::Database::open(db, {.create = false});
        REQUIRE(raw);
        REQUIRE(raw->exec("UPDATE consultations SET question = CAST(x'C328' AS TEXT)"
                          " WHERE question = 'second'"));
    }
    for (Mode mode : {Mode::in_process, Mode::binary}) {
        INFO(test::to_string(mode));
        auto r = run_cli(mode, db, {"--json", "consult", "list"});
        require_error_document_only(r, "internal");
    }
}
