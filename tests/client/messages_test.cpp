// Translatable error messages: the storage and client catalogs are complete in kk/ru/en, and an
// error renders in the language asked for, its arguments included.

#include <catch2/catch.hpp>

#include <set>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/storage/messages.hpp"
#include "message_catalog_check.hpp"
#include "temp_dir.hpp"

using namespace caravan;

TEST_CASE("messages: the storage and client catalogs have every message in kk, ru and en with "
          "the same placeholders",
          "[client][i18n]") {
    std::set<std::string> ids;
    test::check_catalog(storage::msg::catalog(), ids);
    test::check_catalog(client::msg::catalog(), ids);
    CHECK(ids.size() == storage::msg::catalog().size() + client::msg::catalog().size());
}

TEST_CASE("messages: an error keeps the English message and renders in any language",
          "[client][i18n]") {
    static constexpr Message k_two{"test.two", "{0} and {1}", "{0} и {1}", "{0} және {1}"};
    Error e = make_error(ErrorCode::invalid_input, k_two, "a", 7);
    CHECK(e.code == ErrorCode::invalid_input);
    CHECK(e.message == "a and 7");
    CHECK(localize(e, Language::en) == "a and 7");
    CHECK(localize(e, Language::ru) == "a и 7");
    CHECK(localize(e, Language::kk) == "a және 7");

    SECTION("a word argument is translated with the sentence") {
        Error w = make_error(ErrorCode::invalid_input, k_two, client::msg::field_village,
                             client::msg::field_visit);
        CHECK(w.message == "village and visit");
        CHECK(localize(w, Language::ru) == "село и выезд");
        CHECK(localize(w, Language::kk) == "ауыл және сапар");
    }
    SECTION("an embedded error is translated too") {
        Error inner = make_error(ErrorCode::not_found, client::msg::village_unknown);
        Error outer = make_error(inner.code, client::msg::at_line, 12, inner);
        CHECK(outer.message ==
              "line 12: village: no such village; add it with `caravan village add NAME "
              "--region R`");
        CHECK(localize(outer, Language::kk).starts_with("12-жол: ауыл: мұндай ауыл жоқ"));
        CHECK(localize(outer, Language::ru).starts_with("строка 12: село: такого села нет"));
    }
    SECTION("a placeholder without an argument and stray braces stay as written") {
        static constexpr Message k_brace{"test.brace", "{x} {0} {1} {", "{x} {0} {1} {ru",
                                         "{x} {0} {1} {kk"};
        CHECK(make_error(ErrorCode::internal, k_brace, "a").message == "{x} a {1} {");
    }
    SECTION("an error built from a bare string has no translation: its message is shown") {
        Error bare{ErrorCode::internal, "internal detail"};
        CHECK(localize(bare, Language::kk) == "internal detail");
        CHECK(client::localize(bare, client::Lang::ru) == "internal detail");
    }
}

TEST_CASE("messages: validation errors name the field in the reader's language and never "
          "echo free text",
          "[client][i18n]") {
    auto date = client::validate_date("date", "2024-13-1");
    REQUIRE_FALSE(date);
    CHECK(date.error().message ==
          "date: '2024-13-1' is not a date of the form YYYY-MM-DD (e.g. 2024-05-14)");
    CHECK(client::localize(date.error(), client::Lang::kk) ==
          "күні: '2024-13-1' ЖЖЖЖ-АА-КК түріндегі күн емес (мысалы, 2024-05-14)");
    CHECK(client::localize(date.error(), client::Lang::ru) ==
          "дата: '2024-13-1' — не дата вида ГГГГ-ММ-ДД (например, 2024-05-14)");
    // The right form, a day no calendar has: said as such.
    auto month = client::validate_date("date", "2024-13-01");
    REQUIRE_FALSE(month);
    CHECK(client::localize(month.error(), client::Lang::kk) ==
          "күні: '2024-13-01' — күнтізбеде мұндай күн жоқ (ай 01–12, күн айдың ішінде)");

    auto gender = client::enums::gender.parse("Әйелдер туралы ұзақ мәтін");
    REQUIRE_FALSE(gender);
    const std::string kk = client::localize(gender.error(), client::Lang::kk);
    CHECK(kk == "жынысы: көрсетілген мән — жарамсыз мән; рұқсат етілгендері: female, male, "
                "unrecorded");
    CHECK(kk.find("мәтін") == std::string::npos);

    auto question = client::validate_note("question", "", 100);
    REQUIRE_FALSE(question);
    CHECK(question.error().message == "question: a value is required");
    CHECK(client::localize(question.error(), client::Lang::ru) == "вопрос: нужно указать значение");
    CHECK(client::localize(question.error(), client::Lang::kk) == "сұрақ: мәнін көрсету керек");
}

TEST_CASE("messages: engine errors (not initialised, unknown village) are translated",
          "[client][i18n]") {
    test::TempDir dir;
    auto engine = client::Engine::open(dir / "caravan.db");
    REQUIRE(engine);
    auto village = engine->find_village("Қызылжар");
    REQUIRE_FALSE(village);
    CHECK(village.error().code == ErrorCode::not_found);
    CHECK(client::localize(village.error(), client::Lang::ru).starts_with("село: такого села нет"));
    auto device = engine->device();
    REQUIRE_FALSE(device);
    CHECK(device.error().code == ErrorCode::not_initialized);
    CHECK(client::localize(device.error(), client::Lang::kk)
              .starts_with("бұл құрылғы инициализацияланбаған"));
}
