// `caravan` never lets stored text drive the terminal: a control character typed on the command
// line is refused (exit 2, the field named, the text not echoed), and text already stored by an
// older program is printed with visible escapes by consult show, consult list and --json.

#include <catch2/catch.hpp>

#include <chrono>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using nlohmann::json;
using test::Mode, test::run_cli, test::run_cli_ok;

namespace {

const std::string k_escape = "\x1b]0;owned\x07\x1b[2J";
const std::string k_c1 = "\xc2\x9b" "31m";
const std::string k_rlo = "\xe2\x80\xae";

bool has_raw_control(const std::string& text) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            return true;
        }
    }
    return text.find(k_c1) != std::string::npos || text.find(k_rlo) != std::string::npos;
}

void set_up(Mode mode, const std::filesystem::path& db) {
    run_cli_ok(mode, db, {"init", "--lawyer", "Арнат", "--region", "Жамбыл обл."});
    run_cli_ok(mode, db, {"village", "add", "Қызылжар", "--region", "Жамбыл обл."});
    run_cli_ok(mode, db, {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
}

} // namespace

TEST_CASE("cli text safety: a terminal escape in --question or --advice exits 2, names the "
          "field and is not echoed",
          "[cli][text]") {
    for (Mode mode : {Mode::in_process, Mode::binary}) {
        SECTION(test::to_string(mode)) {
            test::TempDir dir;
            auto db = dir / "c.db";
            set_up(mode, db);
            auto before = test::db_state(db);
            for (const auto& [option, field] :
                 {std::pair{"--question", "question"}, std::pair{"--advice", "advice"}}) {
                for (const std::string& text : {"Жер " + k_escape, "Жер " + k_c1, k_rlo + "Жер"}) {
                    auto r = run_cli(mode, db,
                                     {"consult", "add", "--gender", "female", "--age", "33-45",
                                      "--category", "unemployed", "--topic", "land", "--outcome",
                                      "advice", option, text});
                    CHECK(r.code == 2);
                    CHECK(r.err.find(field) != std::string::npos);
                    CHECK_FALSE(has_raw_control(r.err));
                    CHECK(r.err.find("owned") == std::string::npos);
                }
            }
            CHECK(test::db_state(db) == before);
        }
    }
}

TEST_CASE("cli text safety: text stored by an older program is shown with visible escapes",
          "[cli][text]") {
    test::TempDir dir;
    auto db = dir / "c.db";
    set_up(Mode::in_process, db);
    auto saved = run_cli_ok(Mode::in_process, db,
                            {"--json", "consult", "add", "--gender", "female", "--age", "33-45",
                             "--category", "unemployed", "--topic", "land", "--outcome", "advice",
                             "--question", "Бірінші жол\nЕкінші жол"});
    const std::string id = json::parse(saved.out)["id"];
    {
        // As a program without the rule stored it: an update event, in the log and applied.
        storage::Event e;
        e.device_id = "00000000-0000-7000-8000-00000000000b";
        e.seq = 1;
        const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
        e.hlc = (now_ms + 60'000) << 16; // later than the create: its fields win
        e.entity_type = "consultation";
        e.entity_id = id;
        e.op = "update";
        e.payload = json{{"fields",
                          {{"question", "Жер " + k_escape + "\nекінші " + k_c1},
                           {"advice", k_rlo + "кеңес\r"}}}}
                        .dump();
        e.schema_version = 1;
        REQUIRE(test::store_as_older_program(db, e));
    }
    for (Mode mode : {Mode::in_process, Mode::binary}) {
        SECTION(test::to_string(mode)) {
            auto show = run_cli_ok(mode, db, {"consult", "show", id});
            CHECK_FALSE(has_raw_control(show.out));
            CHECK(show.out.find("Жер \\u001b]0;owned\\u0007\\u001b[2J\nекінші \\u009b31m") !=
                  std::string::npos);
            CHECK(show.out.find("\\u202eкеңес\\u000d") != std::string::npos);

            auto list = run_cli_ok(mode, db, {"consult", "list"});
            CHECK_FALSE(has_raw_control(list.out));

            auto history = run_cli_ok(mode, db, {"consult", "history", id});
            CHECK_FALSE(has_raw_control(history.out));

            auto as_json = run_cli_ok(mode, db, {"--json", "consult", "show", id});
            CHECK_FALSE(has_raw_control(as_json.out));
            auto doc = test::one_json_document(as_json.out);
            CHECK(doc["question"] == "Жер " + k_escape + "\nекінші " + k_c1); // same data
        }
    }
}
