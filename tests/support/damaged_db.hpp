#pragma once
// Device databases to damage: one filled with consultations through the engine (its WAL
// checkpointed into the main file when the engine closes), and page-sized overwrites with
// seeded random bytes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "caravan/client/engine.hpp"
#include "caravan/storage/database.hpp"

namespace caravan::test {

inline constexpr std::int64_t k_page_size = 4096; // Debian's SQLite default

// Creates `path` with a device, a village, a visit and `consultations` consultations; every
// `long_every`-th one has a question long enough to need overflow pages. Returns the number of
// events in the log.
inline std::int64_t make_device_database(const std::filesystem::path& path, int consultations,
                                         int long_every = 0) {
    auto engine = client::Engine::open(path);
    REQUIRE(engine);
    REQUIRE(engine->init("Арнат", "Ақтөбе обл."));
    REQUIRE(
        engine->add_village({"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    REQUIRE(engine->start_visit("Қызылжар", std::string("2024-05-14")));
    auto added = engine->batch([&]() -> Result<void> {
        for (int i = 0; i < consultations; ++i) {
            client::ConsultationInput in;
            in.person = {"female", "33-45", "unemployed", false};
            in.topics = {"land"};
            in.outcome = "advice";
            in.question = "сұрақ " + std::to_string(i);
            if (long_every > 0 && i % long_every == 0) {
                in.question += std::string(6000, 'q');
            }
            if (auto c = engine->add_consultation(in); !c) {
                return tl::unexpected(c.error());
            }
        }
        return {};
    });
    REQUIRE(added);
    auto count = engine->event_count();
    REQUIRE(count);
    return *count;
}

inline std::int64_t page_count(const std::filesystem::path& path) {
    return static_cast<std::int64_t>(std::filesystem::file_size(path)) / k_page_size;
}

// The pages (1-based) of table or index `name`'s b-tree in `path`, in page order, from SQLite's
// dbstat table: a damage meant to be found must hit pages in use, and which pages those are
// moves whenever the schema or its migrations change.
inline std::vector<std::int64_t> pages_of(const std::filesystem::path& path,
                                          const std::string& name) {
    storage::OpenOptions options;
    options.create = false;
    options.integrity_check = false;
    auto db = storage::Database::open(path, options);
    REQUIRE(db);
    std::vector<std::int64_t> pages;
    REQUIRE(db->query("SELECT pageno FROM dbstat WHERE name = ? ORDER BY pageno", name)
                .each([&](const storage::Statement& s) { pages.push_back(s.column_int(0)); }));
    return pages;
}

// Overwrites page `page` (1-based, as SQLite numbers them) with random bytes.
inline void damage_page(const std::filesystem::path& path, std::int64_t page, std::mt19937& rng) {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(file);
    std::string noise(k_page_size, '\0');
    for (char& c : noise) {
        c = static_cast<char>(rng() & 0xff);
    }
    file.seekp((page - 1) * k_page_size);
    file.write(noise.data(), static_cast<std::streamsize>(noise.size()));
    REQUIRE(file);
}

} // namespace caravan::test
