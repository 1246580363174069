#pragma once
// Records as the engine returns them, and the inputs it accepts. Inputs hold raw user text
// (enumeration spellings, dates, names): the engine validates and normalises them.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace caravan::client {

struct Device {
    std::string id;
    std::string lawyer;
    std::string region; // home region; empty on a coordinator's device
};

struct Village {
    std::string id;
    std::string name;
    std::string region;
    std::optional<std::string> district;
    std::optional<double> lat;
    std::optional<double> lon;
};

struct Visit {
    std::string id;
    std::string village_id;
    std::string village;  // name, empty when the village record is not known here
    std::string region;
    std::string date;
    std::string lawyer;
    bool closed = false;
};

struct Person {
    std::string gender;   // enumeration codes
    std::string age;
    std::string category;
    // Belongs to a socially vulnerable group: yes, no, or not recorded (std::nullopt). Events
    // carry true, false or null; an event written before the flag could be left out says false.
    std::optional<bool> vulnerable;
};

struct Consultation {
    std::string id;
    std::string visit_id;
    std::string date;
    std::string village;
    std::string region;
    std::string lawyer;
    Person person;
    std::vector<std::string> topics;
    std::string outcome;
    std::string question;
    std::string advice;
    bool follow_up = false;
    std::optional<std::string> lang;
};

struct Attendance {
    std::string id;
    std::string visit_id;
    Person person;
    std::int64_t count = 1;
};

struct Survey {
    std::string id;
    std::string visit_id;
    std::int64_t respondents = 0;
    std::int64_t satisfied = 0;
};

struct Photo {
    std::string id;
    std::string visit_id;
    std::string sha256;
    std::int64_t size = 0;
    std::optional<std::string> file_name;
    std::optional<std::string> taken_at; // ISO 8601
    std::optional<double> lat;
    std::optional<double> lon;
    std::optional<std::string> caption;
    bool consent = false;
};

// ---- inputs --------------------------------------------------------------------------------

struct VillageInput {
    std::string name;
    std::string region;
    std::optional<std::string> district;
    std::optional<double> lat;
    std::optional<double> lon;
};

struct PersonInput {
    std::string gender;   // any accepted spelling
    std::string age;
    std::string category;
    std::optional<bool> vulnerable; // not recorded when absent
};

struct ConsultationInput {
    std::optional<std::string> visit; // reference; the current visit when absent
    PersonInput person;
    std::vector<std::string> topics;
    std::string outcome;
    std::string question;
    std::string advice;
    bool follow_up = false;
    std::optional<std::string> lang;
    std::optional<std::string> lawyer; // the device's lawyer when absent
    std::optional<std::string> id;     // for imports that carry ids; generated when absent
};

// Only the fields present are changed.
struct ConsultationPatch {
    std::optional<std::string> gender;
    std::optional<std::string> age;
    std::optional<std::string> category;
    // Absent: unchanged; holding std::nullopt: cleared to "not recorded"; holding a bool: set.
    std::optional<std::optional<bool>> vulnerable;
    std::optional<std::vector<std::string>> topics;
    std::optional<std::string> outcome;
    std::optional<std::string> question;
    std::optional<std::string> advice;
    std::optional<bool> follow_up;
    std::optional<std::string> lang;
    [[nodiscard]] bool empty() const {
        return !gender && !age && !category && !vulnerable && !topics && !outcome && !question &&
               !advice && !follow_up && !lang;
    }
};

struct AttendanceInput {
    std::optional<std::string> visit;
    PersonInput person;
    std::int64_t count = 1;
};

struct SurveyInput {
    std::optional<std::string> visit;
    std::int64_t respondents = 0;
    std::int64_t satisfied = 0;
};

struct PhotoInput {
    std::optional<std::string> visit;
    std::vector<std::filesystem::path> files;
    std::optional<std::string> caption;
    bool consent = false;
};

struct PhotoAdded {
    Photo photo;
    bool duplicate = false; // already recorded: not counted again
};

struct ConsultationFilter {
    std::optional<std::string> visit;  // reference
    std::optional<std::string> region; // any spelling/case of a known region
    std::optional<std::string> village; // reference (id or name), as Engine::find_village reads it
    std::optional<std::string> from;   // YYYY-MM-DD, inclusive
    std::optional<std::string> to;
    std::optional<std::string> topic;   // consultations with this topic (any spelling)
    std::optional<std::string> outcome; // consultations with this outcome (any spelling)
    // Text to find, compared after fold_case, in the village's name, the question or the
    // advice; empty: no condition.
    std::string text;
    // Latest visit date first, then id descending; consultations whose visit is not known here
    // yet come last. Default: visit date, then id, ascending (undated first).
    bool newest_first = false;
};

struct HistoryEntry {
    std::string version;
    std::string time; // ISO 8601 of the HLC wall clock
    std::string device_id;
    std::string lawyer; // empty when the device is not known here
    std::string op;
    std::string fields_json; // the fields the event wrote, JSON object
    std::vector<std::string> superseded; // fields whose value a later event replaced
};

struct ConflictEntry {
    std::string entity_type;
    std::string entity_id;
    std::string field;
    std::string a_version, a_value; // a_version < b_version: b wins by last-writer-wins
    std::string b_version, b_value;
    // For a delete against an edit (delete_vs_edit()): whether the record is deleted now (an
    // undelete may have brought it back since).
    bool record_deleted = false;

    struct Side {
        std::string version, value;
    };
    // A delete against an edit its author had not seen: field "deleted", one side the delete
    // (`true`), the other the edit, recorded as {"edited": {its fields}}. An edit never writes
    // the mark, so the delete is kept whichever of the two is later; the edit's values are in
    // the record, hidden with it.
    [[nodiscard]] bool delete_vs_edit() const;
    // What was kept and what was overwritten (for a delete against an edit: the delete, and
    // the edit it hides). Otherwise the later version (b) and the earlier (a).
    [[nodiscard]] Side kept() const;
    [[nodiscard]] Side overwritten() const;
};

struct Status {
    std::optional<Device> device;
    std::optional<Visit> current_visit;
    std::int64_t villages = 0, visits = 0, open_visits = 0, consultations = 0,
                 attendance_entries = 0, participants = 0, surveys = 0, photos = 0;
    std::int64_t events = 0;
    std::int64_t unsynced = 0;                 // own events the server has not acknowledged
    std::optional<std::string> oldest_unsynced; // ISO 8601
    std::int64_t conflicts = 0;
};

// JSON renderings used by the CLI's --json output and by exports.
[[nodiscard]] nlohmann::json to_json(const Device& d);
[[nodiscard]] nlohmann::json to_json(const Village& v);
[[nodiscard]] nlohmann::json to_json(const Visit& v);
[[nodiscard]] nlohmann::json to_json(const Consultation& c);
[[nodiscard]] nlohmann::json to_json(const Attendance& a);
[[nodiscard]] nlohmann::json to_json(const Survey& s);
[[nodiscard]] nlohmann::json to_json(const Photo& p);
[[nodiscard]] nlohmann::json to_json(const HistoryEntry& h);
[[nodiscard]] nlohmann::json to_json(const ConflictEntry& c);
[[nodiscard]] nlohmann::json to_json(const Status& s);

} // namespace caravan::client
