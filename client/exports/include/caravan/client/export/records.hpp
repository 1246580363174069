#pragma once
// The record browser's reads (the coordinator's dashboard): consultations found by scope,
// village, topic, outcome and text, a page at a time, newest first; one consultation with
// where it was given; its history (who changed what, when) from the event log; and what the
// conflicts page needs to scope and name a conflict (a record's region, village and visit
// date, the devices' lawyers).
//
// Contract:
// - Only consultations visible now (not deleted, created) are found or read.
// - find_records reads the rows of the page, one more, and those the filters skip before them:
//   neither time nor memory grows with the table for a page of an unfiltered or common search.
//   A topic or outcome that few visits' consultations have (client::visit_totals' visit_codes)
//   reads only those visits, so a filter matching nothing reads no consultation.
//   Order: visit date descending, then visit id descending, then consultation id descending
//   (stable across devices and servers); consultations whose visit has no date here (not known
//   here, or known only from an update) come last, with an empty date, by visit id and id
//   descending, those with no visit at all after them. `after` continues exactly after the
//   last row of a previous page (RecordPage::next): a row added or removed meanwhile neither
//   repeats nor hides another; a new row lands on a later page if it sorts after the cursor.
//   A dated cursor with no visit (a link made before cursors carried one) takes its
//   consultation's visit.
// - Region and dates compare as the journal's do (region_spellings: any spelling of the
//   region); village and text compare case-folded (client::fold_case: Kazakh and Russian
//   letters too), village as a part of the village's name, text as a part of the question or
//   the advice. Topic and outcome are codes (client::enums).
// - record_history lists the consultation's events in clock order with the lawyer that the
//   writing device recorded for itself (empty when the device never said) and the clock's
//   wall time; device ids and clock values stay inside (the caller shows names and times).
// - Every read runs on one snapshot (ReadSnapshot).

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "caravan/client/export/common.hpp"
#include "caravan/client/model.hpp"

namespace caravan::client::exports {

struct RecordFilter {
    Scope scope; // region absent: every region
    std::optional<std::string> village;
    std::optional<std::string> topic;
    std::optional<std::string> outcome;
    std::optional<std::string> text;
    std::optional<std::string> visit; // one visit's consultations (a data-quality warning's link)
};

// Where a page of records ends: the last row's date, visit and id (date and visit empty for a
// consultation whose visit has no date here).
struct RecordCursor {
    std::string date;
    std::string visit;
    std::string id;
};

struct RecordSummary {
    std::string id, date, region, village, lawyer, outcome;
    std::vector<std::string> topics; // codes
};

struct RecordPage {
    std::vector<RecordSummary> rows;
    std::optional<RecordCursor> next; // absent: no further rows
};

// One consultation as it is now, with the visit's date and village. Enumerations are codes.
struct RecordDetail {
    RecordSummary summary;
    std::optional<std::string> district;
    std::string gender, age, category, question, advice;
    std::optional<bool> vulnerable; // nullopt: not recorded
    bool follow_up = false;
    std::optional<std::string> lang;
};

// One event of a consultation's history.
struct RecordChange {
    std::string lawyer;              // of the device that wrote it; empty: unknown
    std::int64_t at_ms = 0;          // the event clock's wall time (Unix ms)
    std::string op;                  // create, update, delete
    std::vector<std::string> fields; // the fields the event set, in the entity's order
};

// A page of at most `limit` consultations (taken into 1..500) matching `filter` after `after`.
// The scope is checked as resolve_scope checks it (invalid_input, not_found).
[[nodiscard]] Result<RecordPage> find_records(storage::Database& db, const RecordFilter& filter,
                                              std::optional<RecordCursor> after, int limit);
// The consultation `id`; nullopt when there is none visible.
[[nodiscard]] Result<std::optional<RecordDetail>> read_record(storage::Database& db,
                                                              const std::string& id);
// The events of consultation `id`, oldest first (at most 1,000: the newest are kept).
[[nodiscard]] Result<std::vector<RecordChange>> record_history(storage::Database& db,
                                                               const std::string& id);

// Where a record of any kind belongs: a consultation's, attendance's, survey's or photo's
// visit (its village and date), a visit's own, a village (its name and region), a device (its
// region only). Fields unknown here are nullopt.
struct RecordPlace {
    std::optional<std::string> region, village;
    std::optional<std::string> date; // the visit's, YYYY-MM-DD
};
// The place of record `id` of kind `type`; nullopt when the record, or the village of its
// visit, is unknown here (an unknown kind too).
[[nodiscard]] Result<std::optional<RecordPlace>>
record_place(storage::Database& db, const std::string& type, const std::string& id);
// A conflict's place in the conflicts list's order: kind, record, field, a_version, b_version.
using ConflictKey = std::array<std::string, 5>;

struct ConflictRow {
    ConflictEntry entry; // record_deleted set as the server's conflicts() sets it
    std::optional<RecordPlace> place;
};

struct ConflictPage {
    std::vector<ConflictRow> rows;
    std::int64_t total = 0;  // the account's conflicts
    std::int64_t offset = 0; // how many of them come before the first row
};

// A page of at most `limit` (1..500) of the projections' conflicts, in the key's order, after
// `after` or else before `before` (the rows just before it), or else the first; with each
// row's place (record_place). `sees` keeps the conflicts of records in the regions it accepts
// (a record without a region: never); empty: every conflict. SQLite counts and orders the
// conflicts (each one's region looked up for a scoped count); the program holds the page's rows
// only.
[[nodiscard]] Result<ConflictPage>
find_conflicts(storage::Database& db, const std::function<bool(const std::string&)>& sees,
               const std::optional<ConflictKey>& after, const std::optional<ConflictKey>& before,
               int limit);
// The region of a record of any kind, as region scope reads it: record_place's region.
[[nodiscard]] Result<std::optional<std::string>>
record_region(storage::Database& db, const std::string& type, const std::string& id);
// Every device's lawyer as the device recorded it for itself (device id -> name).
[[nodiscard]] Result<std::map<std::string, std::string>> device_lawyers(storage::Database& db);

} // namespace caravan::client::exports
