#include "caravan/client/model.hpp"

#include <nlohmann/json.hpp>

namespace caravan::client {

using nlohmann::json;

namespace {
template <class T> json opt(const std::optional<T>& v) { return v ? json(*v) : json(nullptr); }

json person(const Person& p) {
    return {{"gender", p.gender},
            {"age", p.age},
            {"category", p.category},
            {"vulnerable", opt(p.vulnerable)}};
}
} // namespace

json to_json(const Device& d) {
    // A coordinator's device has no home region: null rather than "".
    return {{"id", d.id},
            {"lawyer", d.lawyer},
            {"region", d.region.empty() ? json(nullptr) : json(d.region)}};
}

json to_json(const Village& v) {
    return {{"id", v.id},           {"name", v.name}, {"region", v.region},
            {"district", opt(v.district)}, {"lat", opt(v.lat)}, {"lon", opt(v.lon)}};
}

json to_json(const Visit& v) {
    return {{"id", v.id},         {"village_id", v.village_id}, {"village", v.village},
            {"region", v.region}, {"date", v.date},             {"lawyer", v.lawyer},
            {"closed", v.closed}};
}

json to_json(const Consultation& c) {
    json j = {{"id", c.id},         {"visit_id", c.visit_id}, {"date", c.date},
              {"village", c.village}, {"region", c.region},  {"lawyer", c.lawyer},
              {"topics", c.topics}, {"outcome", c.outcome}, {"question", c.question},
              {"advice", c.advice}, {"follow_up", c.follow_up}, {"lang", opt(c.lang)}};
    j.update(person(c.person));
    return j;
}

json to_json(const Attendance& a) {
    json j = {{"id", a.id}, {"visit_id", a.visit_id}, {"count", a.count}};
    j.update(person(a.person));
    return j;
}

json to_json(const Survey& s) {
    return {{"id", s.id},
            {"visit_id", s.visit_id},
            {"respondents", s.respondents},
            {"satisfied", s.satisfied}};
}

json to_json(const Photo& p) {
    return {{"id", p.id},           {"visit_id", p.visit_id},       {"sha256", p.sha256},
            {"size", p.size},       {"file_name", opt(p.file_name)}, {"taken_at", opt(p.taken_at)},
            {"lat", opt(p.lat)},    {"lon", opt(p.lon)},             {"caption", opt(p.caption)},
            {"consent", p.consent}};
}

json to_json(const HistoryEntry& h) {
    return {{"version", h.version}, {"time", h.time},
            {"device_id", h.device_id}, {"lawyer", h.lawyer},
            {"op", h.op},           {"fields", json::parse(h.fields_json, nullptr, false)},
            {"superseded", h.superseded}};
}

namespace {

bool is_edit_marker(const std::string& text) {
    json v = json::parse(text, nullptr, false);
    return v.is_object() && v.size() == 1 && v.contains("edited");
}

} // namespace

bool ConflictEntry::delete_vs_edit() const {
    return field == "deleted" && (is_edit_marker(a_value) != is_edit_marker(b_value));
}

ConflictEntry::Side ConflictEntry::kept() const {
    if (delete_vs_edit() && is_edit_marker(b_value)) {
        return {a_version, a_value};
    }
    return {b_version, b_value};
}

ConflictEntry::Side ConflictEntry::overwritten() const {
    if (delete_vs_edit() && is_edit_marker(b_value)) {
        return {b_version, b_value};
    }
    return {a_version, a_value};
}

json to_json(const ConflictEntry& c) {
    auto value = [](const std::string& text) {
        json v = json::parse(text, nullptr, false);
        return v.is_discarded() ? json(text) : v;
    };
    const ConflictEntry::Side won = c.kept(), lost = c.overwritten();
    json out = {{"entity_type", c.entity_type},
                {"entity_id", c.entity_id},
                {"field", c.field},
                {"kind", c.delete_vs_edit() ? "delete_vs_edit" : "value"},
                {"lost", {{"version", lost.version}, {"value", value(lost.value)}}},
                {"won", {{"version", won.version}, {"value", value(won.value)}}}};
    if (c.delete_vs_edit()) {
        out["record_deleted"] = c.record_deleted;
    }
    return out;
}

json to_json(const Status& s) {
    return {{"device", s.device ? to_json(*s.device) : json(nullptr)},
            {"current_visit", s.current_visit ? to_json(*s.current_visit) : json(nullptr)},
            {"villages", s.villages},
            {"visits", s.visits},
            {"open_visits", s.open_visits},
            {"consultations", s.consultations},
            {"attendance_entries", s.attendance_entries},
            {"participants", s.participants},
            {"surveys", s.surveys},
            {"photos", s.photos},
            {"events", s.events},
            {"unsynced", s.unsynced},
            {"oldest_unsynced", opt(s.oldest_unsynced)},
            {"conflicts", s.conflicts}};
}

} // namespace caravan::client
