// Events from other devices are checked against the entity table before they touch anything.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/projector.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using nlohmann::json;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;
const std::string k_personal = "Асқаров Бекзат, ИИН 850101300123";

json consultation_fields() {
    return {{"visit_id", uuid_v7(T)},
            {"lawyer", "Арнат Ұлтанбаев"},
            {"gender", "female"},
            {"age", "33-45"},
            {"category", "unemployed"},
            {"vulnerable", true},
            {"topics", {"land", "family"}},
            {"outcome", "advice"},
            {"question", k_personal},
            {"advice", nullptr},
            {"follow_up", false},
            {"lang", "kk"},
            {"deleted", false}};
}

storage::Event event_with(const std::string& entity_type, const std::string& op,
                          const json& payload) {
    storage::Event e;
    e.device_id = uuid_v7(T - 1000);
    e.seq = 1;
    e.hlc = Hlc::from_parts(T, 0).value;
    e.entity_type = entity_type;
    e.entity_id = uuid_v7(T);
    e.op = op;
    e.payload = payload.dump();
    e.schema_version = k_event_schema_version;
    return e;
}

storage::Event consultation_create(const json& fields = consultation_fields()) {
    return event_with("consultation", "create", {{"fields", fields}});
}

// consultation_create() with one change made by `change`.
template <class Change> storage::Event changed(Change change) {
    auto e = consultation_create();
    change(e);
    return e;
}

json without(json object, const std::string& key) {
    object.erase(key);
    return object;
}

json with(json object, const std::string& key, json value) {
    object[key] = std::move(value);
    return object;
}

} // namespace

TEST_CASE("validate_event: a well-formed create is accepted", "[client][validate]") {
    CHECK(validate_event(consultation_create()));
    CHECK(validate_event(event_with(
        "consultation", "update",
        {{"fields", {{"outcome", "case"}}}, {"base", {{"outcome", "0000018f7a3b2c1d@x"}}}})));
    CHECK(validate_event(event_with("consultation", "delete", {{"fields", {{"deleted", true}}}})));
}

TEST_CASE("validate_event: malformed events are refused with a message naming the problem",
          "[client][validate]") {
    struct Case {
        std::string what;
        storage::Event event;
        ErrorCode code;
        std::string mentions;
    };
    auto fields = consultation_fields();
    std::vector<Case> cases = {
        {"unknown entity type", event_with("spaceship", "create", {{"fields", fields}}),
         ErrorCode::invalid_input, "entity"},
        {"unknown field", consultation_create(with(fields, "passport_no", "N123")),
         ErrorCode::invalid_input, "unknown field"},
        {"unknown enumeration code", consultation_create(with(fields, "gender", "robot")),
         ErrorCode::invalid_input, "consultation.gender"},
        {"unknown code inside a list", consultation_create(with(fields, "topics", {"land", "ufo"})),
         ErrorCode::invalid_input, "consultation.topics"},
        {"text where a boolean belongs", consultation_create(with(fields, "vulnerable", "yes")),
         ErrorCode::invalid_input, "consultation.vulnerable"},
        {"number where text belongs", consultation_create(with(fields, "question", 42)),
         ErrorCode::invalid_input, "consultation.question"},
        {"a string where a list belongs", consultation_create(with(fields, "topics", "land")),
         ErrorCode::invalid_input, "consultation.topics"},
        {"an empty list", consultation_create(with(fields, "topics", json::array())),
         ErrorCode::invalid_input, "consultation.topics"},
        {"missing required field on create", consultation_create(without(fields, "outcome")),
         ErrorCode::invalid_input, "consultation.outcome"},
        {"null required field on create", consultation_create(with(fields, "gender", nullptr)),
         ErrorCode::invalid_input, "consultation.gender"},
        {"NUL byte in text", consultation_create(with(fields, "lawyer", std::string("a\0b", 3))),
         ErrorCode::invalid_input, "consultation.lawyer"},
        {"invalid UTF-8 in the payload",
         [&] {
             auto e = consultation_create(with(fields, "lawyer", "@BAD@"));
             e.payload.replace(e.payload.find("@BAD@"), 5, "\xff\xfe");
             return e;
         }(),
         ErrorCode::invalid_input, "JSON"},
        {"negative count",
         event_with("attendance", "create",
                    {{"fields",
                      {{"visit_id", uuid_v7(T)},
                       {"gender", "male"},
                       {"age", "59+"},
                       {"category", "older"},
                       {"count", -3}}}}),
         ErrorCode::invalid_input, "attendance.count"},
        {"fractional count",
         event_with(
             "survey", "create",
             {{"fields", {{"visit_id", uuid_v7(T)}, {"respondents", 2.5}, {"satisfied", 1}}}}),
         ErrorCode::invalid_input, "survey.respondents"},
        {"unknown operation", event_with("consultation", "upsert", {{"fields", fields}}),
         ErrorCode::invalid_input, "operation"},
        {"update that changes nothing",
         event_with("consultation", "update", {{"fields", json::object()}}),
         ErrorCode::invalid_input, "at least one field"},
        {"delete that also edits",
         event_with("consultation", "delete",
                    {{"fields", {{"deleted", true}, {"outcome", "case"}}}}),
         ErrorCode::invalid_input, "deleted"},
        {"base naming an unknown field",
         event_with("consultation", "update",
                    {{"fields", {{"outcome", "case"}}}, {"base", {{"salary", "x"}}}}),
         ErrorCode::invalid_input, "base"},
        {"payload that is not JSON",
         changed([](storage::Event& e) { e.payload = "{\"fields\": "; }), ErrorCode::invalid_input,
         "JSON"},
        {"payload without fields", event_with("consultation", "create", {{"data", fields}}),
         ErrorCode::invalid_input, "fields"},
        {"schema version from a newer program",
         changed([](storage::Event& e) { e.schema_version = k_event_schema_version + 1; }),
         ErrorCode::upgrade_required, "schema version"},
        {"schema version 0", changed([](storage::Event& e) { e.schema_version = 0; }),
         ErrorCode::upgrade_required, "schema version"},
        {"entity id that is not a UUID",
         changed([](storage::Event& e) { e.entity_id = "../../etc/passwd"; }),
         ErrorCode::invalid_input, "UUID"},
        {"sequence 0", changed([](storage::Event& e) { e.seq = 0; }), ErrorCode::invalid_input,
         "seq"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        auto result = validate_event(c.event);
        REQUIRE_FALSE(result);
        CHECK(result.error().code == c.code);
        CHECK_THAT(result.error().message, Catch::Contains(c.mentions));
        // Messages name fields, never their values.
        CHECK_THAT(result.error().message, !Catch::Contains("Асқаров"));
        CHECK_THAT(result.error().message, !Catch::Contains("robot"));
        CHECK_THAT(result.error().message, !Catch::Contains("N123"));
    }
}

TEST_CASE("validate_event: an invalid remote event is refused by apply_remote and writes nothing",
          "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    test::start_field_day(*device);
    const auto events_before = test::event_count(*device);
    const auto fingerprint_before = test::fingerprint(*device);
    const auto clock_before = test::all_events(*device).back().hlc;

    auto bad = consultation_create(with(consultation_fields(), "gender", "robot"));
    bad.hlc = Hlc::from_parts(T + 1000000, 0).value; // must not drag our clock forward either
    CHECK(test::error_of(device->apply_remote(bad)) == ErrorCode::invalid_input);
    auto newer = consultation_create();
    newer.schema_version = k_event_schema_version + 1;
    CHECK(test::error_of(device->apply_remote(newer)) == ErrorCode::upgrade_required);

    CHECK(test::event_count(*device) == events_before);
    CHECK(test::fingerprint(*device) == fingerprint_before);
    ok(device->add_survey({std::nullopt, 5, 5}));
    auto after = test::all_events(*device).back().hlc;
    CHECK(Hlc{after}.wall_ms() < T + 1000000);
    CHECK(after > clock_before);
}

TEST_CASE("validate_event: a valid remote create is applied and shows up", "[client][validate]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    auto visit = test::start_field_day(*device);
    auto create = consultation_create(with(consultation_fields(), "visit_id", visit.id));
    REQUIRE(ok(device->apply_remote(create)));
    auto c = ok(device->find_consultation(create.entity_id));
    CHECK(c.question == k_personal);
    CHECK(c.topics == std::vector<std::string>{"land", "family"});
    CHECK(c.village == "Қызылжар");
}

TEST_CASE("merge: a create lacking an optional field (an older program's event) converges "
          "whatever the arrival order",
          "[client][merge]") {
    // A field added in a later schema is absent from older programs' creates. Two devices create
    // the same village (name-based id); the later create, from an older program, lacks
    // "district". A create writes every field of its schema, so the later create's null wins in
    // every order.
    const std::string village_id = uuid_from_key("village", "test\nжаңаталап");
    auto make = [&](const std::string& device, std::int64_t hlc, json fields) {
        storage::Event e;
        e.device_id = device;
        e.seq = 1;
        e.hlc = hlc;
        e.entity_type = "village";
        e.entity_id = village_id;
        e.op = "create";
        e.payload = json{{"fields", std::move(fields)}}.dump();
        e.schema_version = 1;
        return e;
    };
    auto newer = make(uuid_v7(T), Hlc::from_parts(T, 0).value,
                      {{"name", "Жаңаталап"},
                       {"region", "Ақтөбе обл."},
                       {"district", "Мұғалжар"},
                       {"deleted", false}});
    auto older_later = make(uuid_v7(T + 1), Hlc::from_parts(T + 5000, 0).value,
                            {{"name", "Жаңаталап"}, {"region", "Ақтөбе обл."}, {"deleted", false}});
    REQUIRE(validate_event(newer));
    REQUIRE(validate_event(older_later));

    test::TempDir dir;
    std::string fingerprints[2];
    std::optional<std::string> districts[2];
    for (int order = 0; order < 2; ++order) {
        test::SimDevice fresh(dir / ("order" + std::to_string(order) + ".db"), T);
        for (const auto* e :
             order == 0 ? std::vector{&newer, &older_later} : std::vector{&older_later, &newer}) {
            REQUIRE(ok(fresh->apply_remote(*e)));
        }
        fingerprints[order] = test::fingerprint(*fresh);
        districts[order] = ok(fresh->find_village("Жаңаталап")).district;
        ok(fresh->rebuild_projections());
        CHECK(test::fingerprint(*fresh) == fingerprints[order]);
    }
    CHECK(districts[0] == districts[1]);
    CHECK_FALSE(districts[1]);
    CHECK(fingerprints[0] == fingerprints[1]);
}
