// Local creates are written without a JSON document (NewRecord): their payload text must be the
// canonical text nlohmann::json gives the same fields, every such event must pass the checks a
// remote event passes, and the rows bound from typed values must equal what re-applying the
// event log (the JSON path) makes.

#include <catch2/catch.hpp>

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/client/new_record.hpp"
#include "engine_helpers.hpp"
#include "jpeg_exif.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using nlohmann::json;

namespace {

constexpr std::int64_t T = test::k_field_day_ms;

// Text that needs every kind of escape nlohmann writes, and some it must not write.
const std::string k_awkward = "«Жер» \"дауы\" \\ C:\\жол\nжаңа жол\tтаб\r\x01\x1f\x7f / "
                              "Ёлка ӘәҒғҚқҢңӨөҰұҮүҺһІі 😀";
// What a lawyer can type into a record: the same without the control characters, which text
// fields refuse (docs/security.md, terminal injection).
const std::string k_awkward_typed = "«Жер» \"дауы\" \\ C:\\жол\nжаңа жол\tтаб / "
                                    "Ёлка ӘәҒғҚқҢңӨөҰұҮүҺһІі 😀";

} // namespace

TEST_CASE("json strings are escaped exactly as nlohmann::json dumps them", "[client][new_record]") {
    std::vector<std::string> samples = {"", "plain", k_awkward, "\"", "\\", "end\\"};
    for (int c = 0; c < 0x80; ++c) {
        samples.emplace_back(1, static_cast<char>(c));
        samples.push_back("a" + std::string(1, static_cast<char>(c)) + "b");
    }
    for (const std::string& s : samples) {
        std::string out;
        append_json_string(out, s);
        CHECK(out == json(s).dump());
    }
    std::vector<std::string> list = {"land", k_awkward, ""};
    std::string out;
    append_json_strings(out, list);
    CHECK(out == json(list).dump());
}

TEST_CASE("a record's fields are set by schema name and type", "[client][new_record]") {
    NewRecord r(entities::survey);
    CHECK_THROWS_AS(r.set("no_such_field", true), std::logic_error);
    CHECK_THROWS_AS(r.set("respondents", std::string_view("20")), std::logic_error);
    CHECK_THROWS_AS(r.set("visit_id", std::int64_t{1}), std::logic_error);
    r.set("respondents", std::int64_t{20}).set("satisfied", nullptr);
    // Unset fields are written as null: a create writes every field of its schema.
    CHECK(json::parse(r.payload()) ==
          json{{"fields",
                {{"visit_id", nullptr}, {"respondents", 20}, {"satisfied", nullptr},
                 {"deleted", nullptr}}}});
}

TEST_CASE("every local create writes canonical payload text and projects as a replay does",
          "[client][new_record]") {
    test::TempDir dir;
    test::SimDevice device(dir / "d.db", T);
    ok(device->init("Арнат \"Ұлтанбаев\"", "Жамбыл обл."));
    ok(device->add_village({"Қызылжар", "Ақтөбе обл.", std::string("Мұғалжар \\ ауданы"), 43.25,
                            76.9458333}));
    ok(device->add_village({"Ақши", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    ok(device->start_visit("Қызылжар", std::string("2024-05-14")));
    ok(device->add_past_visit(uuid_v7(T - 86400000), ok(device->list_villages(std::nullopt))[0].id,
                              "2024-05-13", "Ақмарал"));

    ConsultationInput full = test::consultation_input(k_awkward_typed);
    full.advice = "Кеңес:\n1) өтініш\n2) \"шағым\"";
    full.follow_up = true;
    ok(device->add_consultation(full));
    ConsultationInput bare = test::consultation_input("");
    bare.advice.clear();
    bare.lang.reset();
    ok(device->add_consultation(bare));
    ok(device->add_attendance({std::nullopt, {"male", "59+", "older", false}, 12}));
    ok(device->add_survey({std::nullopt, 20, 19}));
    std::ofstream(dir / "IMG_0001.jpg", std::ios::binary) << test::make_jpeg({});
    PhotoInput photo;
    photo.files = {dir / "IMG_0001.jpg"};
    photo.caption = k_awkward_typed;
    photo.consent = true;
    ok(device->add_photos(photo));
    ok(device->close_visit(std::nullopt));

    int creates = 0;
    for (const storage::Event& e : test::all_events(*device)) {
        INFO(e.entity_type << " " << e.op);
        ok(validate_event(e));
        CHECK(json::parse(e.payload).dump() == e.payload);
        creates += e.op == k_op_create ? 1 : 0;
    }
    CHECK(creates == 10); // device, 2 villages, 2 visits, 2 consultations, attendance, survey, photo

    const std::string live = test::fingerprint(*device);
    ok(device->rebuild_projections());
    CHECK(test::fingerprint(*device) == live);
}

TEST_CASE("a local create of a record whose update arrived first merges with it",
          "[client][new_record]") {
    // An import may carry an id another device already edited: the update is in the log before
    // this device's create. The create must not be lost under the update, nor replace it.
    test::TempDir dir;
    test::SimDevice a(dir / "a.db", T);
    test::SimDevice b(dir / "b.db", T);
    test::start_field_day(*a);
    test::start_field_day(*b, "Ақмарал", "Ақши");
    const std::string id = uuid_v7(T);
    ConsultationInput in = test::consultation_input("Жер учаскесі");
    in.id = id;
    ok(a->add_consultation(in));
    a.advance(60000);
    ConsultationPatch patch;
    patch.outcome = "case";
    ok(a->edit_consultation(id, patch));
    // b receives only the update, then records the same id itself (as an import does).
    auto events = test::all_events(*a);
    storage::Event update = events.back();
    REQUIRE(update.op == k_op_update);
    update.log_position = 0;
    ok(b->apply_remote(update));
    b.advance(1000);
    ok(b->add_consultation(in));
    // b's clock observed the update, so its create is the later write of every field: the
    // row is b's create, visible, with the update kept in the log (and in history).
    Consultation seen = ok(b->find_consultation(id));
    CHECK(seen.outcome == "advice");
    CHECK(seen.question == "Жер учаскесі");
    CHECK(test::all_events(*b).back().hlc > update.hlc);
    const std::string live = test::fingerprint(*b);
    ok(b->rebuild_projections());
    CHECK(test::fingerprint(*b) == live);
}
