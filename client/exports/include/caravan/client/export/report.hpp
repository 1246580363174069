#pragma once
// The grant report's tables computed from the records: the indicator table (plan against fact)
// and the section-4 breakdowns of participants by gender, social category, age band and
// vulnerable-group flag.
//
// Who counts as a participant (we keep no person identity, so the rule is about visits):
//   At a visit with attendance recorded, the participants are the attendance head counts;
//   the consultations held there are people already counted in the attendance (they came to
//   the meeting and then asked their question). At a visit with no attendance recorded, each
//   consultation counts as one participant, with its own breakdown. Nobody is counted twice,
//   and a visit where only consultations were taken still counts. Such visits are listed as a
//   data-quality warning, and so are visits where consultations outnumber the attendance.
//
// Every breakdown table sums exactly to the participant total: each table groups the same set
// of participants; "not recorded" is an explicit row (also for values this program does not
// know, e.g. written by a newer version: they keep their own row).
//
// Computation reads one snapshot of the database; rendering is separate, so the server can
// serve the same structures. Numbers are deterministic: the same records give the same bytes
// whatever order their events were applied in.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "caravan/client/domain.hpp"
#include "caravan/client/export/common.hpp"
#include "caravan/client/export/plan.hpp"

namespace caravan::client::exports {

// ---- breakdowns --------------------------------------------------------------------------

struct BreakdownRow {
    std::string code; // an enumeration code, "yes"/"no" for the vulnerable flag, or "unrecorded"
    std::int64_t participants = 0;
};

struct BreakdownTable {
    std::string code;               // "gender", "category", "age", "vulnerable"
    std::vector<BreakdownRow> rows; // every known value in enumeration order, then unknown codes
    std::int64_t total = 0;
};

struct Breakdown {
    Scope scope; // resolved
    std::int64_t participants = 0;
    std::int64_t visits = 0;
    std::int64_t visits_counted_by_consultations = 0; // visits with no attendance recorded
    std::vector<BreakdownTable> tables;
};

// Told the number of visits counted so far, after each visit (may be empty).
using VisitProgress = std::function<void(std::int64_t visits)>;

[[nodiscard]] Result<Breakdown> compute_breakdown(storage::Database& db, const Scope& scope,
                                                  const VisitProgress& progress = {});

// ---- indicators --------------------------------------------------------------------------

struct Indicator {
    std::string code; // villages, visits, participants, consultations, lawyers, journals,
                      // protected, satisfaction_percent, photos_per_visit
    std::optional<double> plan;
    std::optional<double> fact;             // absent when it cannot be computed (no answers)
    std::optional<double> achieved_percent; // fact / plan × 100, one decimal; absent without
                                            // a plan or with a zero plan
    std::optional<bool> met;                // fact >= plan
    bool whole = true;                      // a count (false: a ratio, shown with decimals)
    // The parts of a ratio: satisfied / respondents, photos / visits.
    std::optional<std::int64_t> numerator, denominator;
};

enum class WarningKind {
    visit_without_attendance, // its consultations are counted as participants
    consultations_exceed_attendance,
    consultation_unrecorded, // consultations with a breakdown field "unrecorded"
    attendance_unrecorded,   // attendance head counts with a breakdown field "unrecorded"
    photos_below_plan,
    open_visit,    // never closed
    unknown_visit, // records whose visit is not known here (not synced yet?)
    unknown_village, // visits whose village (so region) is not known here: not counted
};

[[nodiscard]] std::string_view to_string(WarningKind kind);

struct Warning {
    WarningKind kind;
    // The visit (empty for unknown_visit and unknown_village).
    std::string visit_id, date, village, region, lawyer;
    std::string field;         // gender, age, category (the *_unrecorded kinds); for
                               // unknown_visit the record type: consultations, attendance,
                               // photos, surveys; for unknown_village "visits"
    std::int64_t count = 0;    // consultations, people or photos concerned
    std::int64_t expected = 0; // attendance (…_exceed_attendance), planned photos
};

struct IndicatorReport {
    Plan plan;
    Scope scope; // resolved; the plan's period where the request gave no dates
    std::vector<Indicator> indicators;
    std::vector<Warning> warnings; // ordered by date, visit, kind, field
};

// ---- activity over time -------------------------------------------------------------------

// Visits, consultations and participants of a group (a week, a region or a lawyer), counted
// over the same visits and by the same participant rule as the indicators: the groups of one
// kind sum to the indicators' "visits", "consultations" and "participants" facts for the scope.
struct ActivityRow {
    std::string key; // week: the Monday "YYYY-MM-DD" ("" when the visit's date is not known);
                     // region: its name; lawyer: the visit's lawyer as recorded ("" if none)
    std::int64_t visits = 0;
    std::int64_t consultations = 0;
    std::int64_t participants = 0;
};

struct RegionVillages {
    std::string region;
    std::int64_t villages = 0; // distinct villages visited (the indicators' "villages" there)
};

struct Activity {
    Scope scope;                       // resolved
    std::vector<ActivityRow> weeks;    // in date order, undated first; every week from the first
                                       // visit's to the last's (zeros where none), unless
                                       // that spans more than five years: then only weeks
                                       // with a visit
    std::vector<ActivityRow> regions;  // in region order
    std::vector<ActivityRow> lawyers;  // in name order
    std::vector<RegionVillages> villages; // in region order
    ActivityRow total;                 // key ""
};

// The Monday of the ISO week of `date` ("YYYY-MM-DD"); "" when `date` is not such a date.
[[nodiscard]] std::string week_of(std::string_view date);

[[nodiscard]] Result<Activity> compute_activity(storage::Database& db, const Scope& scope);

// `scope` dates, when given, override the plan's period.
[[nodiscard]] Result<IndicatorReport> compute_indicators(storage::Database& db, const Plan& plan,
                                                         const Scope& scope,
                                                         const VisitProgress& progress = {});

// ---- rendering ---------------------------------------------------------------------------
// text: aligned tables for people; csv: one table (RFC 4180, BOM, CRLF; the indicator CSV holds
// the indicators only: warnings need text, json or xlsx); json: one document, see
// docs/exports.md; xlsx: one sheet per table (indicators + warnings; one per breakdown).
// XLSX to a stream goes through a temporary file. The export_* forms write a file atomically.

[[nodiscard]] Result<void> write_indicators(const IndicatorReport& report, Format format, Lang lang,
                                            std::ostream& out);
[[nodiscard]] Result<void> export_indicators(const IndicatorReport& report, Format format,
                                             Lang lang, const std::filesystem::path& file);
[[nodiscard]] Result<void> write_breakdown(const Breakdown& breakdown, Format format, Lang lang,
                                           std::ostream& out);
[[nodiscard]] Result<void> export_breakdown(const Breakdown& breakdown, Format format, Lang lang,
                                            const std::filesystem::path& file);

// A warning as one line of text in `lang` (no personal data: dates, villages, counts).
[[nodiscard]] std::string describe(const Warning& warning, Lang lang);

} // namespace caravan::client::exports
