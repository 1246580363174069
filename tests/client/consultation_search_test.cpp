// The consultations' text index (an FTS5 trigram index the list's text search looks in): a
// search gives exactly the rows, in exactly the order, that reading every row and keeping those
// whose text holds the words gives; the index follows edits, deletes, merges and rebuilds; a
// database from before the index gets one; an index that no longer matches the table is found
// by `check` and mended by a rebuild; and a database without it is still searched.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "caravan/client/engine.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/database.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using test::ok;

namespace {

std::vector<std::string> ids(Engine& engine, const ConsultationFilter& filter) {
    std::vector<std::string> out;
    ok(engine.list_consultations(filter, [&](const Consultation& c) {
        out.push_back(c.id);
        return true;
    }));
    return out;
}

// What reading every row and keeping those whose village, question or advice holds `text`
// (both folded) gives, in the list's order.
std::vector<std::string> by_hand(Engine& engine, const std::string& text, bool newest_first) {
    ConsultationFilter all;
    all.newest_first = newest_first;
    const std::string needle = fold_case(normalize_space(text));
    std::vector<std::string> out;
    ok(engine.list_consultations(all, [&](const Consultation& c) {
        for (const std::string* field : {&c.village, &c.question, &c.advice}) {
            if (fold_case(*field).find(needle) != std::string::npos) {
                out.push_back(c.id);
                break;
            }
        }
        return true;
    }));
    return out;
}

std::vector<std::string> search(Engine& engine, const std::string& text, bool newest_first) {
    ConsultationFilter f;
    f.text = text;
    f.newest_first = newest_first;
    return ids(engine, f);
}

// Two villages over three days, texts in kk, ru and en with capitals, a quote and repeated
// words, and one consultation whose visit this laptop has not received (listed last, or first
// oldest-first).
struct Programme {
    explicit Programme(const test::TempDir& dir)
        : path(dir / "a.db"), a(path, test::k_field_day_ms), b(dir / "b.db", test::k_field_day_ms + 500) {
        test::start_field_day(*a); // Қызылжар, 2024-05-14
        ok(a->add_village({"Бескөл", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
        const std::vector<std::pair<std::string, std::string>> texts = {
            {"ЖЕР телімі туралы", "Әкімдікке өтініш"},
            {"Пенсия по инвалидности", "Обратиться в ЦОН"},
            {"Land plot \"boundary\" dispute", "Write to the akimat"},
            {"Алимент өндіру", "Сотқа талап арыз"},
            {"Жерге құқық", "ЖЕР кадастры"},
        };
        for (std::size_t day = 0; day < 3; ++day) {
            if (day > 0) {
                ok(a->close_visit(std::nullopt));
                ok(a->start_visit(day == 1 ? "Бескөл" : "Қызылжар",
                                  std::string(day == 1 ? "2024-05-16" : "2024-05-15")));
            }
            for (const auto& [question, advice] : texts) {
                a.advance(1000);
                ConsultationInput in = test::consultation_input(question);
                in.advice = advice;
                ok(a->add_consultation(in));
            }
        }
        test::start_field_day(*b, "Гүлнар Сейітова", "Бескөл");
        b.advance(1000);
        ok(b->add_consultation(test::consultation_input("Жер дауы: шекара")));
        for (storage::Event& e : test::all_events(*b)) {
            if (e.entity_type == "consultation") {
                e.server_seq.reset();
                e.log_position = 0;
                ok(a->apply_remote(e));
            }
        }
    }
    std::filesystem::path path;
    test::SimDevice a, b;
};

const std::vector<std::string> k_needles = {
    "жер",             // three letters, many rows and cases (the index)
    "ЖЕР ТЕЛ",         // across a space, any case
    "  пенсия   по  ", // spaces normalized
    "\"boundary\"",    // a quote inside the text
    "бескөл",          // a village's name: all of its consultations
    "шекара",          // only in the consultation of an unknown visit
    "же",              // two letters: read row by row
    "zzz нет такого",  // nothing
};

} // namespace

TEST_CASE("consultation search: the index gives exactly the rows and order of reading every row",
          "[list][search]") {
    test::TempDir dir;
    Programme p(dir);
    for (bool newest : {false, true}) {
        for (const std::string& needle : k_needles) {
            INFO("text «" << needle << "», newest first " << newest);
            CHECK(search(*p.a, needle, newest) == by_hand(*p.a, needle, newest));
        }
    }
    // Not vacuous: the needles find what they should.
    CHECK(search(*p.a, "жер", true).size() == 7);
    CHECK(search(*p.a, "бескөл", true).size() == 5);
    CHECK(search(*p.a, "шекара", true).size() == 1);
    CHECK(search(*p.a, "zzz нет такого", true).empty());
    // With the other conditions: a village's text search within a date range.
    ConsultationFilter f;
    f.newest_first = true;
    f.text = "жер";
    f.from = "2024-05-15";
    CHECK(ids(*p.a, f).size() == 4);
}

TEST_CASE("consultation search: the index follows edits, deletes and rebuilds", "[list][search]") {
    test::TempDir dir;
    Programme p(dir);
    const std::string id = search(*p.a, "алимент", true).front();
    ConsultationPatch patch;
    patch.question = "Мұрагерлік үлесі";
    ok(p.a->edit_consultation(id, patch));
    CHECK(search(*p.a, "алимент", true).size() == 2); // the other two days' remain
    CHECK(search(*p.a, "мұрагерлік", true) == std::vector<std::string>{id});

    ok(p.a->remove_consultation(id));
    CHECK(search(*p.a, "мұрагерлік", true).empty());
    ok(p.a->undelete_consultation(id));
    CHECK(search(*p.a, "мұрагерлік", true) == std::vector<std::string>{id});

    ok(p.a->rebuild_projections());
    CHECK(search(*p.a, "мұрагерлік", true) == std::vector<std::string>{id});
    for (const std::string& needle : k_needles) {
        CHECK(search(*p.a, needle, true) == by_hand(*p.a, needle, true));
    }
    auto report = ok(p.a->check(dir.path()));
    CHECK(report.ok());
}

TEST_CASE("consultation search: an index that no longer matches the table is found by check and "
          "mended by a rebuild",
          "[list][search]") {
    test::TempDir dir;
    Programme p(dir);
    const auto before = search(*p.a, "пенсия", true);
    REQUIRE(before.size() == 3);
    {
        // What a VACUUM run by hand (new row ids) or a damaged page would leave: one row's text
        // gone from the index.
        auto raw = ok(storage::Database::open(p.path));
        ok(raw.exec("INSERT INTO consultation_text(consultation_text, rowid, question, advice)"
                    " SELECT 'delete', rowid, question, advice FROM consultations"
                    " WHERE question LIKE 'Пенсия%' LIMIT 1"));
    }
    CHECK(search(*p.a, "пенсия", true).size() == 2); // the index only narrows: one row missed
    auto damaged = ok(p.a->check(dir.path()));
    CHECK_FALSE(damaged.projections_match);
    CHECK_FALSE(damaged.ok());

    ok(p.a->rebuild_projections());
    CHECK(search(*p.a, "пенсия", true) == before);
    CHECK(ok(p.a->check(dir.path())).ok());
}

TEST_CASE("consultation search: a database from before the index gets one, and one without it is "
          "still searched",
          "[list][search]") {
    test::TempDir dir;
    std::filesystem::path path;
    std::vector<std::string> expected;
    {
        Programme p(dir);
        path = p.path;
        expected = search(*p.a, "жер", true);
        REQUIRE(expected.size() == 7);
    }
    const auto drop_index = [&](bool forget_migration) {
        auto raw = ok(storage::Database::open(path));
        ok(raw.exec("DROP TABLE consultation_text; DROP TRIGGER consultation_text_insert;"
                    " DROP TRIGGER consultation_text_delete;"
                    " DROP TRIGGER consultation_text_update;"));
        if (forget_migration) {
            ok(raw.exec("DELETE FROM caravan_schema WHERE component = 'search'"));
        }
    };

    SECTION("before the index: opening builds it over the rows already there") {
        drop_index(true);
        test::SimDevice a(path, test::k_field_day_ms + 10'000'000);
        CHECK(search(*a, "жер", true) == expected);
        CHECK(ok(a->check(dir.path())).ok());
        a.advance(1000);
        ok(a->add_consultation(test::consultation_input("Жаңа жер сұрағы")));
        CHECK(search(*a, "жер", true).size() == 8);
    }
    SECTION("no index (an older backup restored under a running app): rows are read instead, "
            "check says so and a rebuild makes it") {
        drop_index(false);
        test::SimDevice a(path, test::k_field_day_ms + 10'000'000);
        CHECK(search(*a, "жер", true) == expected);
        a.advance(1000);
        ok(a->add_consultation(test::consultation_input("Жаңа жер сұрағы")));
        CHECK(search(*a, "жер", true).size() == 8);
        CHECK_FALSE(ok(a->check(dir.path())).ok());
        ok(a->rebuild_projections());
        CHECK(ok(a->check(dir.path())).ok());
        CHECK(search(*a, "жер", true).size() == 8);
    }
}
