// Writes the device database fixture of schema version 1 (every component at version 1) and a
// manifest of what it holds, for the migration test (tests/client/migration_test.cpp):
//
//   make_fixture_v1 tests/fixtures/device-schema-v1.db tests/fixtures/device-schema-v1.json
//
// Run once with the code of schema version 1 and commit both files; never regenerate them with
// a later schema, or the test stops proving the upgrade path from version 1.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "../client/jpeg_exif.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/storage/migrations.hpp"

using namespace caravan;
using nlohmann::json;

namespace {

template <class T> T must(Result<T> r, const char* what) {
    if (!r) {
        std::cerr << "make_fixture_v1: " << what << ": " << r.error().message << "\n";
        std::exit(1);
    }
    return std::move(*r);
}
void must(Result<void> r, const char* what) {
    if (!r) {
        std::cerr << "make_fixture_v1: " << what << ": " << r.error().message << "\n";
        std::exit(1);
    }
}

client::ConsultationInput consultation(std::string gender, std::string age, std::string category,
                                       std::vector<std::string> topics, std::string outcome,
                                       std::string question, std::string lang) {
    client::ConsultationInput in;
    in.person = {std::move(gender), std::move(age), std::move(category), true};
    in.topics = std::move(topics);
    in.outcome = std::move(outcome);
    in.question = std::move(question);
    in.advice = "Құжаттарды жинап, әкімдікке өтініш беру";
    in.lang = std::move(lang);
    return in;
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: make_fixture_v1 OUTPUT.db MANIFEST.json\n";
        return 2;
    }
    const std::filesystem::path db_path = argv[1];
    const std::filesystem::path manifest_path = argv[2];
    if (std::filesystem::exists(db_path)) {
        std::cerr << "make_fixture_v1: " << db_path << " exists; remove it first\n";
        return 2;
    }
    const std::filesystem::path photo_path = db_path.parent_path() / "make_fixture_v1.jpg";
    { std::ofstream(photo_path, std::ios::binary) << caravan::test::make_jpeg({}); }

    json manifest;
    {
        // A fixed clock: 2024-05-14T10:00:00Z, a quarter second per reading.
        auto now = std::make_shared<std::int64_t>(1715680800000);
        client::EngineOptions options;
        options.clock = [now] { return *now += 250; };
        auto engine = must(client::Engine::open(db_path, options), "open");

        must(engine.init("Арнат Ұлтанбаев", "Жамбыл обл."), "init");
        must(engine.add_village(
                 {"Қызылжар", "Ақтөбе обл.", std::string("Мұғалжар ауданы"), 48.9, 57.1}),
             "village");
        must(engine.add_village(
                 {"Берёзовка", "Ақмола обл.", std::nullopt, std::nullopt, std::nullopt}),
             "village");
        must(engine.start_visit("Берёзовка", std::string("2024-05-13")), "visit");
        must(engine.add_consultation(consultation("male", "59+", "older", {"inheritance"},
                                                  "document", "Вопрос о наследстве дома", "ru")),
             "consultation");
        must(engine.close_visit(std::nullopt), "close");
        must(engine.start_visit("Қызылжар", std::string("2024-05-14")), "visit");
        must(engine.add_attendance({std::nullopt, {"female", "33-45", "unemployed", true}, 14}),
             "attendance");
        must(engine.add_attendance({std::nullopt, {"male", "17-22", "youth", false}, 1}),
             "attendance");
        must(engine.add_survey({std::nullopt, 12, 11}), "survey");
        auto first = must(engine.add_consultation(
                              consultation("female", "33-45", "unemployed", {"land", "family"},
                                           "advice", "Жер телімінің шекарасы туралы дау", "kk")),
                          "consultation");
        auto second = must(
            engine.add_consultation(consultation("female", "46-58", "disability", {"benefits"},
                                                 "referred", "Мүгедектік бойынша жәрдемақы", "kk")),
            "consultation");
        must(engine.add_consultation(consultation("male", "23-27", "youth", {"labour", "credit"},
                                                  "case", "Жалақы төленбеді", "kk")),
             "consultation");
        client::ConsultationPatch patch;
        patch.question = "Жер телімінің шекарасы туралы көршімен дау";
        patch.outcome = "document";
        patch.follow_up = true;
        must(engine.edit_consultation(first.id, patch), "edit");
        must(engine.remove_consultation(second.id), "remove");
        client::PhotoInput photo;
        photo.files = {photo_path};
        photo.caption = "Кеңес беру, Қызылжар";
        photo.consent = true;
        must(engine.add_photos(photo), "photo");

        json events = json::array();
        auto scanned = engine.scan_events(0, 100000, [&](const storage::Event& e) {
            events.push_back({{"device_id", e.device_id},
                              {"seq", e.seq},
                              {"hlc", e.hlc},
                              {"entity_type", e.entity_type},
                              {"entity_id", e.entity_id},
                              {"op", e.op},
                              {"payload", e.payload},
                              {"schema_version", e.schema_version}});
            return true;
        });
        must(scanned, "scan");
        json consultations = json::array();
        must(engine.list_consultations({},
                                       [&](const client::Consultation& c) {
                                           consultations.push_back(client::to_json(c));
                                           return true;
                                       }),
             "list");
        auto status = client::to_json(must(engine.status(), "status"));
        json versions = json::object();
        auto raw = must(storage::Database::open(db_path), "open"); // read-only use
        for (const char* component : {"event_log", "settings", "projections"}) {
            versions[component] = must(storage::schema_version(raw, component), "schema version");
        }
        manifest = {{"generated_by", "tests/programs/make_fixture_v1.cpp"},
                    {"schema_versions", versions},
                    {"status", status},
                    {"consultations", consultations},
                    {"events", events}};
    }
    std::filesystem::remove(photo_path);
    for (const char* suffix : {"-wal", "-shm"}) {
        auto side = db_path;
        side += suffix;
        if (std::filesystem::exists(side) && std::filesystem::file_size(side) > 0 &&
            std::string(suffix) == "-wal") {
            std::cerr << "make_fixture_v1: the WAL was not checkpointed\n";
            return 1;
        }
        std::filesystem::remove(side);
    }
    std::ofstream(manifest_path) << manifest.dump(2) << "\n";
    std::cout << "wrote " << db_path.string() << " (" << manifest["events"].size()
              << " events) and " << manifest_path.string() << "\n";
    return 0;
}
