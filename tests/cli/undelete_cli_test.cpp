// `caravan conflicts` says truthfully what a delete against an edit kept (the deletion) and what
// it hid (the edit), in kk/ru/en and whichever came later; `caravan consult undelete` brings the
// record back.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../client/engine_helpers.hpp"
#include "caravan/client/engine.hpp"
#include "cli_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using nlohmann::json;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

// Two device files where a deleted a consultation that b edited without knowing; b's database
// holds both events. Returns the consultation id.
std::string delete_against_edit(const test::TempDir& dir, bool edit_later) {
    test::SimDevice a(dir / "a.db", T), b(dir / "b.db", T + 500);
    test::start_field_day(*a);
    a.advance(1000);
    std::string id = test::ok(a->add_consultation(test::consultation_input("Бастапқы"))).id;
    test::ok(b->init("Гүлнар", "Ақмола обл."));
    test::deliver(*a, *b);
    a.set_now(T + 60000 + (edit_later ? 0 : 10));
    b.set_now(T + 60000 + (edit_later ? 10 : 0));
    test::ok(a->remove_consultation(id));
    client::ConsultationPatch patch;
    patch.advice = "Өңделген кеңес";
    test::ok(b->edit_consultation(id, patch));
    test::deliver(*a, *b);
    return id;
}

} // namespace

TEST_CASE("cli conflicts: a delete against an edit reads the deletion as kept and the edit as "
          "hidden, in both orders and three languages",
          "[cli][undelete]") {
    const bool edit_later = GENERATE(false, true);
    DYNAMIC_SECTION((edit_later ? "the edit is later" : "the delete is later")) {
        test::TempDir dir;
        const std::string id = delete_against_edit(dir, edit_later);
        const auto db = dir / "b.db";
        const std::string short_id = id.substr(id.size() - 8);

        auto en = run_cli_ok(Mode::in_process, db, {"conflicts"});
        INFO(en.out);
        CHECK(en.out.find("deleted while edited on another device") != std::string::npos);
        CHECK(en.out.find("kept: the deletion") != std::string::npos);
        CHECK(en.out.find("is hidden with the record") != std::string::npos);
        CHECK(en.out.find("caravan consult undelete " + short_id) != std::string::npos);
        CHECK(en.out.find("Өңделген кеңес") != std::string::npos);
        CHECK(en.out.find("kept {\"edited\"") == std::string::npos); // the old, backwards text

        auto ru = run_cli_ok(Mode::in_process, db, {"--lang", "ru", "conflicts"});
        INFO(ru.out);
        CHECK(ru.out.find("оставлено: удаление") != std::string::npos);
        CHECK(ru.out.find("скрыто вместе с записью") != std::string::npos);
        auto kk = run_cli_ok(Mode::in_process, db, {"--lang", "kk", "conflicts"});
        INFO(kk.out);
        CHECK(kk.out.find("қалдырылды: жою") != std::string::npos);
        CHECK(kk.out.find("жазбамен бірге жасырылды") != std::string::npos);

        auto doc = test::one_json_document(
            run_cli_ok(Mode::in_process, db, {"--json", "conflicts"}).out);
        REQUIRE(doc.size() == 1);
        CHECK(doc[0]["kind"] == "delete_vs_edit");
        CHECK(doc[0]["won"]["value"] == true);
        CHECK(doc[0]["lost"]["value"]["edited"]["advice"] == "Өңделген кеңес");
        CHECK(doc[0]["record_deleted"] == true);

        // The remedy the listing names works, and settles the conflict: the listing is empty.
        for (Mode mode : {Mode::binary}) {
            auto back = run_cli_ok(mode, db, {"consult", "undelete", short_id});
            CHECK(back.out.find("restored " + short_id) != std::string::npos);
        }
        auto shown = test::one_json_document(
            run_cli_ok(Mode::in_process, db, {"--json", "consult", "show", short_id}).out);
        CHECK(shown["advice"] == "Өңделген кеңес");
        auto after = test::one_json_document(
            run_cli_ok(Mode::in_process, db, {"--json", "conflicts"}).out);
        CHECK(after.empty());
        CHECK(run_cli_ok(Mode::in_process, db, {"conflicts"}).out.find("is visible again") ==
              std::string::npos);
    }
}

TEST_CASE("cli undelete: a record that is not deleted or not known is refused with a clear "
          "error",
          "[cli][undelete]") {
    test::TempDir dir;
    auto db = dir / "c.db";
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    run_cli_ok(Mode::in_process, db, {"village", "add", "Қызылжар", "--region", "Жамбыл обл."});
    run_cli_ok(Mode::in_process, db, {"visit", "start", "--village", "Қызылжар"});
    auto saved = test::one_json_document(
        run_cli_ok(Mode::in_process, db,
                   {"--json", "consult", "add", "--gender", "female", "--age", "33-45",
                    "--category", "unemployed", "--topic", "land", "--outcome", "advice"})
            .out);
    const std::string id = saved["id"];
    auto live = run_cli(Mode::in_process, db, {"consult", "undelete", id});
    CHECK(live.code != 0);
    CHECK(live.err.find("not deleted") != std::string::npos);
    auto unknown = run_cli(Mode::in_process, db, {"consult", "undelete", "ffffffff"});
    CHECK(unknown.code == 2);
    CHECK(unknown.err.find("not found") != std::string::npos);
    run_cli_ok(Mode::in_process, db, {"consult", "rm", id});
    auto json_back = test::one_json_document(
        run_cli_ok(Mode::in_process, db, {"--json", "consult", "undelete", id}).out);
    CHECK(json_back["id"] == id);
    CHECK(json_back["deleted"] == false);
    run_cli_ok(Mode::in_process, db, {"consult", "show", id});
}
