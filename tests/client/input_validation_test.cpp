// What a lawyer types is validated before anything is written; name lookups forgive case in
// Kazakh and Russian but never guess between two records.

#include <catch2/catch.hpp>

#include <functional>

#include "caravan/client/domain.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;
const std::string k_personal = "Асқаров Бекзат, көршісімен жер дауы";

struct BadInput {
    std::string what;
    std::string field; // must be named in the message
    std::function<Result<void>(Engine&)> call;
};

template <class T> Result<void> discard(Result<T> r) {
    if (!r) {
        return tl::unexpected(r.error());
    }
    return {};
}

std::vector<BadInput> bad_inputs() {
    auto consult = [](auto mutate) {
        return [mutate](Engine& e) {
            ConsultationInput in = test::consultation_input(k_personal);
            mutate(in);
            return discard(e.add_consultation(in));
        };
    };
    return {
        {"unknown gender", "gender",
         consult([](ConsultationInput& in) { in.person.gender = "robot"; })},
        {"unknown age band", "age",
         consult([](ConsultationInput& in) { in.person.age = "60-70"; })},
        {"unknown category", "category",
         consult([](ConsultationInput& in) { in.person.category = "астронавт"; })},
        {"unknown topic", "topic", consult([](ConsultationInput& in) {
             in.topics = {"land", "ufo"};
         })},
        {"no topic", "topic", consult([](ConsultationInput& in) { in.topics.clear(); })},
        {"unknown outcome", "outcome", consult([](ConsultationInput& in) { in.outcome = "won"; })},
        {"unknown consultation language", "lang",
         consult([](ConsultationInput& in) { in.lang = "de"; })},
        {"question that is not UTF-8", "question",
         consult([](ConsultationInput& in) { in.question = k_personal + "\xff\xfe"; })},
        {"overlong UTF-8 in the advice", "advice",
         consult([](ConsultationInput& in) { in.advice = "\xc0\xaf"; })},
        {"surrogate code point in the question", "question",
         consult([](ConsultationInput& in) { in.question = "\xed\xa0\x80"; })},
        {"NUL byte in the question", "question",
         consult([](ConsultationInput& in) { in.question = std::string("a\0b", 3); })},
        {"question longer than the limit", "question", consult([](ConsultationInput& in) {
             in.question = std::string(k_max_note_chars + 1, 'x');
         })},
        {"empty lawyer given explicitly", "lawyer",
         consult([](ConsultationInput& in) { in.lawyer = "   "; })},
        {"id that is not a UUID", "id", consult([](ConsultationInput& in) { in.id = "123"; })},
        {"visit on 30 February", "date",
         [](Engine& e) { return discard(e.start_visit("Қызылжар", std::string("2024-02-30"))); }},
        {"visit on 29 February of a common year", "date",
         [](Engine& e) { return discard(e.start_visit("Қызылжар", std::string("2023-02-29"))); }},
        {"visit on 29 February 2100 (not a leap year)", "date",
         [](Engine& e) { return discard(e.start_visit("Қызылжар", std::string("2100-02-29"))); }},
        {"visit date in another format", "date",
         [](Engine& e) { return discard(e.start_visit("Қызылжар", std::string("14.05.2024"))); }},
        {"empty village name", "name",
         [](Engine& e) {
             return discard(
                 e.add_village({" \t ", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
         }},
        {"empty region", "region",
         [](Engine& e) {
             return discard(
                 e.add_village({"Жаңаауыл", "", std::nullopt, std::nullopt, std::nullopt}));
         }},
        {"village name that is not UTF-8", "name",
         [](Engine& e) {
             return discard(
                 e.add_village({"\xd2", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
         }},
        {"latitude without longitude", "lat",
         [](Engine& e) {
             return discard(
                 e.add_village({"Жаңаауыл", "Ақтөбе обл.", std::nullopt, 50.3, std::nullopt}));
         }},
        {"latitude out of range", "lat",
         [](Engine& e) {
             return discard(e.add_village({"Жаңаауыл", "Ақтөбе обл.", std::nullopt, 91.0, 57.0}));
         }},
        {"more satisfied than respondents", "satisfied",
         [](Engine& e) {
             return discard(e.add_survey({std::nullopt, 10, 11}));
         }},
        {"no respondents", "respondents",
         [](Engine& e) {
             return discard(e.add_survey({std::nullopt, 0, 0}));
         }},
        {"attendance head count of zero", "count",
         [](Engine& e) {
             return discard(e.add_attendance({std::nullopt, {"male", "17-22", "youth", false}, 0}));
         }},
        {"attendance with an unknown gender", "gender",
         [](Engine& e) {
             return discard(e.add_attendance({std::nullopt, {"x", "17-22", "youth", false}, 1}));
         }},
        {"edit to an unknown outcome", "outcome",
         [](Engine& e) {
             ConsultationPatch p;
             p.outcome = "won";
             std::string id;
             (void)e.list_consultations({}, [&](const Consultation& c) {
                 id = c.id;
                 return false;
             });
             return discard(e.edit_consultation(id, p));
         }},
        {"init with an empty lawyer name", "lawyer",
         [](Engine& e) { return discard(e.init("", "Жамбыл обл.")); }},
    };
}

} // namespace

TEST_CASE("validation: invalid input returns invalid_input naming the field and writes no event",
          "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    ok(device->add_consultation(test::consultation_input("Бастапқы")));
    for (const BadInput& bad : bad_inputs()) {
        INFO(bad.what);
        const auto events_before = test::event_count(*device);
        const auto fingerprint_before = test::fingerprint(*device);
        auto result = bad.call(*device);
        REQUIRE_FALSE(result);
        CHECK(result.error().code == ErrorCode::invalid_input);
        CHECK_THAT(result.error().message, Catch::Contains(bad.field));
        CHECK_THAT(result.error().message, !Catch::Contains("Асқаров"));
        CHECK(test::event_count(*device) == events_before);
        CHECK(test::fingerprint(*device) == fingerprint_before);
    }
}

TEST_CASE("validation: the same inputs, corrected, are accepted", "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    CHECK(device->start_visit("Қызылжар", std::string("2024-02-29"))); // leap day
    ConsultationInput in = test::consultation_input(k_personal);
    in.person = {"ЕР", "59+", "Жасы үлкен адамдар (50+)", false}; // labels in any case and language
    in.topics = {"земля", "мұрагерлік", "tax"};
    in.outcome = "Қорғауға алынды";
    in.lang = "RU";
    auto c = ok(device->add_consultation(in));
    CHECK(c.person.gender == "male");
    CHECK(c.person.category == "older");
    CHECK(c.topics == std::vector<std::string>{"land", "inheritance", "tax"});
    CHECK(c.outcome == "case");
    CHECK(c.lang == std::optional<std::string>("ru"));
    CHECK(device->add_village({"Жаңаауыл", "Ақтөбе обл.", std::nullopt, 50.3, 57.2}));
    CHECK(device->add_survey({std::nullopt, 10, 10}));
}

TEST_CASE("validation: an operation that needs an initialised device says so and writes nothing",
          "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    CHECK(test::error_of(device->device()) == ErrorCode::not_initialized);
    auto visit = device->start_visit("Қызылжар", std::string("2024-05-14"));
    CHECK_FALSE(visit);
    CHECK(test::error_of(device->add_village({"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt,
                                              std::nullopt})) == ErrorCode::not_initialized);
    CHECK(test::event_count(*device) == 0);
    ok(device->init("Арнат Ұлтанбаев", "Жамбыл обл."));
    CHECK(test::error_of(device->init("Арнат Ұлтанбаев", "Жамбыл обл.")) == ErrorCode::conflict);
    CHECK(test::event_count(*device) == 1);
}

TEST_CASE("validation: a consultation without a current visit is refused", "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    ok(device->init("Арнат Ұлтанбаев", "Жамбыл обл."));
    auto result = device->add_consultation(test::consultation_input(k_personal));
    REQUIRE_FALSE(result);
    CHECK(result.error().code == ErrorCode::invalid_input);
    CHECK_THAT(result.error().message, Catch::Contains("visit"));
    CHECK(test::event_count(*device) == 1);
}

TEST_CASE("batch: each add goes to the visit that is current at that moment of the batch",
          "[client][validate]") {
    // A batch looks the current visit up once and keeps it: starting or closing a visit in the
    // same batch must be seen by the adds that follow.
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    ok(device->init("Арнат Ұлтанбаев", "Жамбыл обл."));
    VillageInput first;
    first.name = "Қызылжар";
    first.region = "Ақтөбе обл.";
    VillageInput second = first;
    second.name = "Тасөткел";
    ok(device->add_village(first));
    ok(device->add_village(second));
    std::string visit_a, visit_b, in_a, in_b;
    ok(device->batch([&]() -> Result<void> {
        visit_a = ok(device->start_visit("Қызылжар", std::string("2024-05-14"))).id;
        in_a = ok(device->add_consultation(test::consultation_input(k_personal))).visit_id;
        visit_b = ok(device->start_visit("Тасөткел", std::string("2024-05-15"))).id;
        in_b = ok(device->add_consultation(test::consultation_input(k_personal))).visit_id;
        ok(device->close_visit(std::nullopt));
        auto after_close = device->add_consultation(test::consultation_input(k_personal));
        REQUIRE_FALSE(after_close);
        CHECK(after_close.error().code == ErrorCode::invalid_input);
        return {};
    }));
    CHECK(in_a == visit_a);
    CHECK(in_b == visit_b);
    CHECK(visit_a != visit_b);
}

// ---- text folding and name lookup --------------------------------------------------------

TEST_CASE("text: fold_case lowers Kazakh, Russian and ASCII letters and nothing else",
          "[client][text]") {
    CHECK(fold_case("ҚЫЗЫЛЖАР") == "қызылжар");
    CHECK(fold_case("ӘҒҚҢӨҰҮҺІ") == "әғқңөұүһі");
    CHECK(fold_case("ЁЛКА Ёжик") == "ёлка ёжик");
    CHECK(fold_case("АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ") == "абвгдежзийклмнопрстуфхцчшщъыьэюя");
    CHECK(fold_case("Ақтөбе обл. 2024 ABC") == "ақтөбе обл. 2024 abc");
    CHECK(fold_case("қызылжар") == "қызылжар");
    CHECK(fold_case("59+ – №5") == "59+ – №5");
    CHECK(fold_case("") == "");
    // Letters of the same blocks that have no case pair here stay; so do other scripts.
    CHECK(fold_case("ѢѲ ÉÀ Ω €") == "ѢѲ ÉÀ Ω €");
    CHECK(fold_case("ЀЏ") == "ѐџ");
    // From the first byte that is not UTF-8 on, the text stays as it was.
    CHECK(fold_case("АБ\xffВГ") == "аб\xffВГ");
    CHECK(fold_case("АБ\xd0") == "аб\xd0");
    CHECK(fold_case("А\xd0ZБ") == "а\xd0ZБ");
    // Into a buffer, reused: the same text, nothing left of the previous one.
    std::string buffer = "a much longer text than the next one";
    fold_case("ҚАЗ", buffer);
    CHECK(buffer == "қаз");
}

TEST_CASE("text: UTF-8 validation accepts Kazakh and refuses malformed bytes", "[client][text]") {
    CHECK(is_valid_utf8("Құқығыңды білу міндет"));
    CHECK(is_valid_utf8("Знать свои права 😀"));
    CHECK_FALSE(is_valid_utf8("\xff"));
    CHECK_FALSE(is_valid_utf8("\xd2"));             // truncated two-byte sequence
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));         // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));     // surrogate
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
    CHECK_FALSE(is_valid_utf8(std::string("a\0b", 3)));
    CHECK(utf8_length("Қызылжар") == 8);
    CHECK(normalize_space("  Қызыл \t  жар\n") == "Қызыл жар");
}

TEST_CASE("lookup: a village is found by its name in any letter case", "[client][lookup]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    ok(device->add_village({"Қызылорда", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    ok(device->add_village({"Берёзовка", "Ақмола обл.", std::nullopt, std::nullopt, std::nullopt}));
    CHECK(ok(device->find_village("ҚЫЗЫЛЖАР")).name == "Қызылжар");
    CHECK(ok(device->find_village("  қызылжар ")).name == "Қызылжар");
    CHECK(ok(device->find_village("БЕРЁЗОВКА")).name == "Берёзовка");
    CHECK(ok(device->find_village("берё")).name == "Берёзовка"); // unique prefix
    CHECK(ok(device->find_village("ҚЫЗЫЛЖ")).name == "Қызылжар");
    auto by_id = ok(device->find_village("Қызылорда"));
    CHECK(ok(device->find_village(short_id(by_id.id))).id == by_id.id);
    CHECK(ok(device->find_region("АҚТӨБЕ ОБЛ.")) == "Ақтөбе обл.");
    CHECK(ok(device->find_visit("ҚЫЗЫЛЖАР")).village == "Қызылжар");
}

TEST_CASE("lookup: an ambiguous prefix returns ambiguous and lists the candidates",
          "[client][lookup]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    ok(device->add_village({"Қызылорда", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    const auto events_before = test::event_count(*device);
    auto found = device->find_village("ҚЫЗЫЛ");
    REQUIRE_FALSE(found);
    CHECK(found.error().code == ErrorCode::ambiguous);
    CHECK_THAT(found.error().message, Catch::Contains("Қызылжар"));
    CHECK_THAT(found.error().message, Catch::Contains("Қызылорда"));
    auto visit = device->start_visit("қызыл", std::string("2024-05-15"));
    REQUIRE_FALSE(visit);
    CHECK(visit.error().code == ErrorCode::ambiguous);
    CHECK(test::event_count(*device) == events_before);
    CHECK(test::error_of(device->find_village("Шымкент")) == ErrorCode::not_found);
}

TEST_CASE("lookup: the same village name in two regions is ambiguous by name, not by id",
          "[client][lookup]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    auto other = ok(
        device->add_village({"Қызылжар", "Абай обл.", std::nullopt, std::nullopt, std::nullopt}));
    CHECK(test::error_of(device->find_village("Қызылжар")) == ErrorCode::ambiguous);
    CHECK(ok(device->find_village(other.id)).region == "Абай обл.");
    // The same name in the same region, in another case, is the same village.
    CHECK(test::error_of(device->add_village({"ҚЫЗЫЛЖАР", "ақтөбе обл.", std::nullopt, std::nullopt,
                                              std::nullopt})) == ErrorCode::conflict);
}
