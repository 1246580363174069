// A lawyer's device records only in the regions it is enrolled for (issue 10, "A lawyer's
// visit in another region loses its consultations"): villages, visits and everything under a
// visit in another region are refused on the device, with a message in the user's language,
// and nothing is written. A coordinator's device, and one not enrolled yet, record anywhere.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/storage/database.hpp"
#include "engine_helpers.hpp"
#include "temp_dir.hpp"

using namespace caravan;
using namespace caravan::client;
using namespace caravan::test;

namespace {

const std::string k_aktobe = "Ақтөбе обл.";
const std::string k_zhambyl = "Жамбыл обл.";

// What the sync agent stores from the server's enrollment answer (agent_state.hpp keys).
void enroll_as(Engine& engine, const std::string& role, const std::vector<std::string>& regions) {
    storage::Settings settings(engine.component_storage());
    ok(settings.set("sync.role", role));
    ok(settings.set("sync.regions", nlohmann::json(regions).dump()));
}

VillageInput village(const std::string& name, const std::string& region) {
    return {name, region, std::nullopt, std::nullopt, std::nullopt};
}

// The error of a refused write: invalid_input, and the log unchanged.
template <class T>
Error refused(Engine& engine, std::int64_t events_before, const Result<T>& result) {
    REQUIRE_FALSE(result);
    CHECK(result.error().code == ErrorCode::invalid_input);
    CHECK(event_count(engine) == events_before);
    return result.error();
}

// A lawyer's laptop of Ақтөбе обл., initialised (not yet enrolled), in its own directory.
struct AktobeLaptop {
    TempDir dir;
    SimDevice device{dir / "d.db", k_field_day_ms};
    AktobeLaptop() { ok(device->init("Арнат Ұлтанбаев", k_aktobe)); }
};

} // namespace

TEST_CASE_METHOD(
    AktobeLaptop,
    "recording scope: a lawyer's device refuses a village or a visit in a region it is not "
    "enrolled for",
    "[client][scope]") {
    // Known before the enrollment (or pulled as reference data from a coordinator).
    ok(device->add_village(village("Ақжар", k_zhambyl)));
    enroll_as(*device, "lawyer", {k_aktobe});

    ok(device->add_village(village("Қызылжар", k_aktobe)));
    std::int64_t before = event_count(*device);

    Error e = refused(*device, before, device->add_village(village("Бескөл", k_zhambyl)));
    CHECK(e.message.find(k_zhambyl) != std::string::npos);
    CHECK(e.message.find(k_aktobe) != std::string::npos);
    CHECK(localize(e, Lang::ru).find("не входит в области") != std::string::npos);
    CHECK(localize(e, Lang::kk).find("тіркелген облыстардың") != std::string::npos);

    e = refused(*device, before, device->start_visit("Ақжар", std::string("2024-05-14")));
    CHECK(e.message.find(k_zhambyl) != std::string::npos);
    CHECK_FALSE(ok(device->current_visit()).has_value());
    e = refused(*device, before,
                device->add_past_visit("01900000-0000-7000-8000-0000000000aa",
                                       ok(device->find_village("Ақжар")).id, "2024-05-01",
                                       "Арнат Ұлтанбаев"));

    // In its own region everything works, whatever the spelling of the region.
    ok(device->add_village(village("Сарыбұлақ", "  ақтөбе   ОБЛ. ")));
    ok(device->start_visit("Қызылжар", std::string("2024-05-14")));
    ok(device->add_consultation(consultation_input("сұрақ")));
}

TEST_CASE_METHOD(AktobeLaptop,
                 "recording scope: a visit opened in another region before the enrollment takes no "
                 "further record",
                 "[client][scope]") {
    ok(device->add_village(village("Ақжар", k_zhambyl)));
    Visit foreign = ok(device->start_visit("Ақжар", std::string("2024-05-14")));
    Consultation held = ok(device->add_consultation(consultation_input("бұрынғы сұрақ")));
    // The data a device already holds when it is enrolled (or updated to this version).
    enroll_as(*device, "lawyer", {k_aktobe});
    std::int64_t before = event_count(*device);

    Error e = refused(*device, before, device->add_consultation(consultation_input("сұрақ")));
    CHECK(e.message.find(short_id(foreign.id)) != std::string::npos);
    CHECK(e.message.find(k_zhambyl) != std::string::npos);
    CHECK(localize(e, Lang::ru).find("не зарегистрировано") != std::string::npos);
    CHECK(localize(e, Lang::kk).find("тіркелмеген") != std::string::npos);
    refused(*device, before,
            device->add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 4}));
    refused(*device, before, device->add_survey({std::nullopt, 5, 4}));
    refused(*device, before, device->add_survey({foreign.id, 5, 4}));
    std::filesystem::path photo = dir / "p.jpg";
    std::ofstream(photo) << "photo";
    refused(*device, before, device->add_photos({std::nullopt, {photo}, std::nullopt, true}));
    refused(*device, before, device->close_visit(std::nullopt));
    ConsultationPatch patch;
    patch.outcome = "case";
    refused(*device, before, device->edit_consultation(held.id, patch));
    refused(*device, before, device->remove_consultation(held.id));

    // The way out: a visit in its own region becomes the current one.
    ok(device->add_village(village("Қызылжар", k_aktobe)));
    ok(device->start_visit("Қызылжар", std::string("2024-05-15")));
    ok(device->add_consultation(consultation_input("сұрақ")));
}

TEST_CASE("recording scope: a coordinator's device and a device not enrolled record in every "
          "region",
          "[client][scope]") {
    TempDir dir;
    for (std::string role : {"coordinator", ""}) {
        INFO("role " << (role.empty() ? "(not enrolled)" : role));
        SimDevice device(dir / ("d" + role + ".db"), k_field_day_ms);
        ok(device->init("Гүлнар Сейітова", k_aktobe));
        if (!role.empty()) {
            enroll_as(*device, role, {});
        }
        ok(device->add_village(village("Ақжар", k_zhambyl)));
        ok(device->add_village(village("Қызылжар", k_aktobe)));
        ok(device->start_visit("Ақжар", std::string("2024-05-14")));
        ok(device->add_consultation(consultation_input("сұрақ")));
        ok(device->start_visit("Қызылжар", std::string("2024-05-15")));
        ok(device->add_attendance({std::nullopt, {"male", "59+", "older", false}, 2}));
    }
}

TEST_CASE_METHOD(AktobeLaptop,
                 "recording scope: a lawyer enrolled for two regions records in both and no other",
                 "[client][scope]") {
    enroll_as(*device, "lawyer", {k_aktobe, k_zhambyl});
    ok(device->add_village(village("Ақжар", k_zhambyl)));
    ok(device->add_village(village("Қызылжар", k_aktobe)));
    std::int64_t before = event_count(*device);
    refused(*device, before, device->add_village(village("Бескөл", "Абай обл.")));
    ok(device->start_visit("Ақжар", std::string("2024-05-14")));
    ok(device->add_consultation(consultation_input("сұрақ")));
}
