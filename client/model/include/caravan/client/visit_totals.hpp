#pragma once
// What each visit's records add up to, kept as the records change: the grant report's tables
// (client/exports report.hpp: indicators, breakdowns, activity) add up these rows, one or a few
// per visit, instead of reading every consultation and attendance entry. At a million events
// that is the difference between seconds and milliseconds for the coordinator's dashboard
// (issue 13), and the same tables serve the app and the CLI, so every one of them counts alike.
//
// Four tables, kept by triggers on consultations, attendance, photos and surveys (a device's
// database, the server's store and each PostgreSQL cache file all have them):
//   visit_totals(visit_id, attendance, people, people_unrecorded_{gender,age,category},
//                consultations, cases, consultations_unrecorded_{gender,age,category},
//                photos, surveys, respondents, satisfied)
//       one row per visit id with at least one visible record: how many visible attendance
//       entries and the people they count (and those with the field not recorded), visible
//       consultations (those whose outcome is "case", those with the field not recorded),
//       photos, survey entries and their respondents and satisfied answers;
//   visit_breakdowns(visit_id, source, field, value, records, n)
//       the people of each breakdown value at the visit, from its attendance (source
//       "attendance": head counts) and from its consultations (source "consultation": one
//       each); field is gender, age, category or vulnerable; value the code, "unrecorded" when
//       absent, "yes"/"no" for the flag; records: how many visible records have that value
//       (a row exists while one does, even one counting 0 people);
//   visit_lawyers(visit_id, lawyer, n)
//       the lawyer names its visible consultations record ('' when none) and how many;
//   visit_codes(field, value, visit_id, records)
//       how many of the visit's visible consultations have each topic (field "topic": each
//       distinct code of the list) and each outcome (field "outcome"; none when absent); keyed
//       by code first, so the record browser finds the visits where a topic or outcome occurs
//       without reading the consultations (client/exports records.hpp).
// Visible means what CARAVAN_VISIBLE_SQL says (created, not deleted). A record with no visit
// id is filed under ''. Records whose visit is unknown keep their rows: the report counts
// them as records of an unknown visit.
//
// The triggers take a row's old contribution away and add its new one, so the tables are the
// same whatever order events arrive in; a rebuild of the projections recomputes them once
// (rebuild_projections), and `check` compares them with a recomputation (matches_tables).

#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"

namespace caravan::client::visit_totals {

// The migration of component "totals": the tables, their triggers, and the totals of the
// records already there (a database from before them).
[[nodiscard]] Result<void> install(storage::Database& db);

// Drops the triggers (before a rebuild), and computes the tables from the records and creates
// the triggers again (after it). Inside the caller's transaction.
[[nodiscard]] Result<void> drop_triggers(storage::Database& db);
[[nodiscard]] Result<void> recompute(storage::Database& db);

// Whether the tables hold exactly what the records add up to; false when the file has none.
[[nodiscard]] Result<bool> matches_tables(storage::Database& db);

// Whether the file has the tables (one from before them has not, until install or a rebuild).
[[nodiscard]] Result<bool> present(storage::Database& db);

} // namespace caravan::client::visit_totals

namespace caravan::client {

// Rebuilds the projections from the event log (Projector::rebuild) with the triggers of the
// derived tables (the text index, the visit totals) off, then computes those once over the
// result: quicker than keeping them row by row, and right even when they had drifted from the
// records, or were missing. Inside the caller's transaction.
[[nodiscard]] Result<void> rebuild_projections(storage::Database& db, Projector& projector);

} // namespace caravan::client
