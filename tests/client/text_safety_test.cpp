// Terminal escape sequences, other control characters and text-direction overrides never get
// into a record: refused when typed, imported or received from another device, each refusal
// naming the field and never echoing the text. Line breaks of a note stay.

#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/import.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/client/text.hpp"
#include "engine_helpers.hpp"
#include "raw_device_db.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using nlohmann::json;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

// Each hostile text, as a lawyer's paste or another device would carry it.
const std::vector<std::pair<std::string, std::string>> k_hostile = {
    {"ESC (a terminal escape sequence)", "Жер дауы \x1b]0;owned\x07 \x1b[2J"},
    {"BEL", "Жер\x07 дауы"},
    {"backspace", "Жер\b\b\bдауы"},
    {"DEL", "Жер\x7f дауы"},
    {"C1 CSI (U+009B)", "Жер \xc2\x9b" "31m дауы"},
    {"right-to-left override (U+202E)", "Жер \xe2\x80\xae" "дауы"},
    {"first strong isolate (U+2068)", "Жер \xe2\x81\xa8" "дауы"},
};

struct TestDevice {
    test::TempDir dir;
    test::SimDevice engine{dir / "device.db", T};
    TestDevice() {
        ok(engine->init("Арнат", "Жамбыл обл."));
        ok(engine->add_village({"Қызылжар", "Жамбыл обл.", std::nullopt, std::nullopt,
                                std::nullopt}));
        ok(engine->start_visit("Қызылжар", "2024-05-14"));
    }
};

void require_refused(const Error& error, const std::string& field) {
    INFO(error.message);
    CHECK(error.code == ErrorCode::invalid_input);
    CHECK(error.message.find(field) != std::string::npos);
    for (const std::string_view leak : {"\x1b", "\x07", "owned", "\xc2\x9b", "\xe2\x80\xae"}) {
        CHECK(error.message.find(leak) == std::string::npos);
    }
}

} // namespace

TEST_CASE("text safety: control characters and direction overrides typed into a record are "
          "refused naming the field",
          "[client][text]") {
    for (const auto& [what, text] : k_hostile) {
        SECTION(what) {
            TestDevice d;
            auto events = ok(d.engine->event_count());
            ConsultationInput in = test::consultation_input(text);
            auto added = d.engine->add_consultation(in);
            REQUIRE_FALSE(added);
            require_refused(added.error(), "question");

            in = test::consultation_input("Жер дауы");
            in.advice = text;
            added = d.engine->add_consultation(in);
            REQUIRE_FALSE(added);
            require_refused(added.error(), "advice");

            auto village = d.engine->add_village(
                {text, "Жамбыл обл.", std::nullopt, std::nullopt, std::nullopt});
            REQUIRE_FALSE(village);
            require_refused(village.error(), "name");

            in = test::consultation_input("Жер дауы");
            in.lawyer = text;
            added = d.engine->add_consultation(in);
            REQUIRE_FALSE(added);
            require_refused(added.error(), "lawyer");

            auto c = ok(d.engine->add_consultation(test::consultation_input("Жер дауы")));
            ConsultationPatch patch;
            patch.question = text;
            auto edited = d.engine->edit_consultation(c.id, patch);
            REQUIRE_FALSE(edited);
            require_refused(edited.error(), "question");
            CHECK(ok(d.engine->event_count()) == events + 1); // only the clean add
        }
    }
}

TEST_CASE("text safety: a note keeps its line breaks and tabs, CRLF becomes LF", "[client][text]") {
    TestDevice d;
    auto c = ok(d.engine->add_consultation(
        test::consultation_input("Бірінші жол\r\nЕкінші жол\rҮшінші\tжол")));
    CHECK(c.question == "Бірінші жол\nЕкінші жол\nҮшінші\tжол");
    CHECK(ok(d.engine->find_consultation(c.id)).question == c.question);
}

TEST_CASE("text safety: an event from another device whose text holds a control character is "
          "refused and leaves no trace",
          "[client][text][sync]") {
    TestDevice d;
    auto c = ok(d.engine->add_consultation(test::consultation_input("Жер дауы")));
    auto mine = test::all_events(*d.engine);
    storage::Event create = mine.back();
    for (const auto& [what, text] : k_hostile) {
        SECTION(what) {
            storage::Event e = create;
            e.device_id = "00000000-0000-7000-8000-00000000000b";
            e.entity_id = "00000000-0000-7000-8000-0000000000c1";
            e.seq = 1;
            json payload = json::parse(e.payload);
            payload["fields"]["question"] = text;
            e.payload = payload.dump();
            auto valid = validate_event(e);
            REQUIRE_FALSE(valid);
            require_refused(valid.error(), "question");
            auto before = ok(d.engine->event_count());
            auto applied = d.engine->apply_remote(e);
            REQUIRE_FALSE(applied);
            require_refused(applied.error(), "question");
            CHECK(ok(d.engine->event_count()) == before);
            CHECK(validate_event(e, EventCheck::stored)); // a log's own copy still re-projects
        }
    }
    SECTION("a line break (CR LF) from an older device is still accepted") {
        storage::Event e = create;
        e.device_id = "00000000-0000-7000-8000-00000000000b";
        e.entity_id = "00000000-0000-7000-8000-0000000000c2";
        e.seq = 1;
        json payload = json::parse(e.payload);
        payload["fields"]["question"] = "Бірінші жол\r\nЕкінші\tжол";
        e.payload = payload.dump();
        CHECK(ok(d.engine->apply_remote(e)));
    }
    (void)c;
}

TEST_CASE("text safety: an event stored before the rule still re-projects identically",
          "[client][text]") {
    TestDevice d;
    auto c = ok(d.engine->add_consultation(test::consultation_input("Жер дауы")));
    storage::Event e = test::all_events(*d.engine).back();
    e.device_id = "00000000-0000-7000-8000-00000000000b";
    e.entity_id = "00000000-0000-7000-8000-0000000000c3";
    e.seq = 1;
    json payload = json::parse(e.payload);
    payload["fields"]["question"] = "old \x1b[31m text";
    e.payload = payload.dump();
    // As an older program stored it: in the log and applied.
    ok(test::store_as_older_program(d.dir / "device.db", e));
    CHECK(ok(d.engine->find_consultation("0000000000c3")).question == "old \x1b[31m text");
    test::TempDir scratch;
    auto report = ok(d.engine->check(scratch.path()));
    CHECK(report.projections_match);
    (void)c;
}

TEST_CASE("text safety: an imported journal row with a control character is refused naming "
          "line and column, nothing written",
          "[client][text][import]") {
    for (const auto& [what, text] : k_hostile) {
        SECTION(what) {
            TestDevice d;
            auto before = ok(d.engine->event_count());
            auto file = d.dir / "journal.csv";
            {
                std::ofstream out(file, std::ios::binary);
                out << "date,region,village,gender,age,category,topics,outcome,question\n"
                    << "2024-05-14,Жамбыл обл.,Қызылжар,female,33-45,unemployed,land,advice,ok\n"
                    << "2024-05-14,Жамбыл обл.,Қызылжар,female,33-45,unemployed,land,advice,\""
                    << text << "\"\n"
                    << "2024-05-14,Жамбыл обл.,\"" << text
                    << "\",female,33-45,unemployed,land,advice,ok\n";
            }
            auto report = ok(import_journal(*d.engine, file));
            REQUIRE(report.errors.size() == 2);
            CHECK(report.errors[0].line == 3);
            CHECK(report.errors[0].column == "question");
            CHECK(report.errors[1].line == 4);
            CHECK(report.errors[1].column == "village");
            for (const auto& issue : report.errors) {
                require_refused(issue.error, "");
                CHECK(to_string(issue).find('\x1b') == std::string::npos);
            }
            CHECK(ok(d.engine->event_count()) == before);
        }
    }
}

TEST_CASE("text safety: escape_controls makes stored text printable and is_safe_text judges it",
          "[client][text]") {
    CHECK(escape_controls("a\x1b[31mb") == "a\\u001b[31mb");
    CHECK(escape_controls("a\nb\tc\rd") == "a\\u000ab\\u0009c\\u000dd");
    CHECK(escape_controls("a\nb\tc\rd", true) == "a\nb\tc\\u000dd");
    CHECK(escape_controls("x\xc2\x9by") == "x\\u009by");
    CHECK(escape_controls("x\xe2\x80\xaey") == "x\\u202ey");
    CHECK(escape_controls("x\x7fy") == "x\\u007fy");
    CHECK(escape_controls("x\xffy") == "x\\xffy");
    CHECK(escape_controls("Қызылжар, «жер»") == "Қызылжар, «жер»");
    CHECK(is_safe_text("Қызылжар\n\tжол"));
    CHECK_FALSE(is_safe_text("a\rb"));
    CHECK(is_safe_text("a\rb", true));
    for (const auto& [what, text] : k_hostile) {
        INFO(what);
        CHECK_FALSE(is_safe_text(text, true));
    }
}
