#pragma once
// The plan a caravan's indicators are measured against: a small JSON file the coordinator
// writes once per grant year (schema in docs/exports.md; docs/examples/plan-2024.json holds the
// 2024 plan of the report). Every target is a minimum ("at least").
//
//   {
//     "format": "caravan-plan",          optional; when present must be "caravan-plan"
//     "version": 1,                      optional; when present must be 1
//     "name": "…",                       optional; shown in report headings
//     "period": {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"},   optional; either bound optional
//     "targets": {
//       "villages": 50, "participants": 1250, "journals": 4, "lawyers": 5,
//       "protected": 125, "satisfaction_percent": 75, "photos_per_visit": 10,   required
//       "visits": 72, "consultations": 400                                      optional
//     }
//   }
//
// Errors (invalid_input, naming the file and the key, never guessing): invalid JSON with its
// line, column and byte offset; a missing required key; a value of the wrong type or out of
// range; an unknown key (a misspelt target would otherwise be silently ignored).
// A plan file that cannot be read is not_found / io.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "caravan/storage/result.hpp"

namespace caravan::client::exports {

struct PlanTargets {
    std::int64_t villages = 0;
    std::int64_t participants = 0;
    std::int64_t journals = 0;
    std::int64_t lawyers = 0;
    std::int64_t protected_people = 0; // key "protected": people whose case was taken on
    double satisfaction_percent = 0;   // 0..100
    double photos_per_visit = 0;
    std::optional<std::int64_t> visits;
    std::optional<std::int64_t> consultations;
};

struct Plan {
    std::string name;
    std::optional<std::string> from, to; // the plan's period
    PlanTargets targets;
};

// `source` names the file in messages.
[[nodiscard]] Result<Plan> parse_plan(std::string_view text, std::string_view source);
[[nodiscard]] Result<Plan> load_plan(const std::filesystem::path& file);

} // namespace caravan::client::exports
