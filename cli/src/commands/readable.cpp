#include "readable.hpp"

#include <utility>

#include "caravan/client/authorship.hpp"
#include "caravan/client/iso_time.hpp"

namespace caravan::cli {

namespace {

using nlohmann::json;

// The value `table` pairs with `key`, or nullptr.
template <class T, std::size_t N>
const T* find_in(const std::pair<std::string_view, const T*> (&table)[N], std::string_view key) {
    for (const auto& [code, value] : table) {
        if (code == key) {
            return value;
        }
    }
    return nullptr;
}

const Message* record_message(std::string_view type) {
    static const std::pair<std::string_view, const Message*> k_words[] = {
        {"consultation", &msg::word_consultation},
        {"visit", &msg::word_visit},
        {"village", &msg::word_village},
        {"attendance", &msg::word_attendance_entry},
        {"survey", &msg::word_survey},
        {"photo", &msg::word_photo},
        {"device", &msg::word_device}};
    return find_in(k_words, type);
}

const Message* field_message(std::string_view field) {
    static const std::pair<std::string_view, const Message*> k_words[] = {
        {"gender", &msg::word_gender},       {"age", &msg::word_age},
        {"category", &msg::word_category},   {"vulnerable", &msg::word_vulnerable},
        {"topics", &msg::word_topics},       {"outcome", &msg::word_outcome},
        {"question", &msg::word_question},   {"advice", &msg::word_advice},
        {"follow_up", &msg::word_follow_up}, {"lang", &msg::word_language},
        {"lawyer", &msg::word_lawyer},       {"visit_id", &msg::word_visit},
        {"village_id", &msg::word_village},  {"date", &msg::word_date},
        {"closed", &msg::word_closed},       {"region", &msg::word_region},
        {"district", &msg::word_district},   {"name", &msg::word_name},
        {"count", &msg::word_people},        {"respondents", &msg::word_respondents},
        {"satisfied", &msg::word_satisfied}, {"lat", &msg::word_latitude},
        {"lon", &msg::word_longitude},       {"deleted", &msg::word_deleted}};
    return find_in(k_words, field);
}

// The enumeration whose codes `field` holds, or nullptr.
const client::Enumeration* enumeration_of(std::string_view field) {
    static const std::pair<std::string_view, const client::Enumeration*> k_enums[] = {
        {"gender", &client::enums::gender},     {"age", &client::enums::age},
        {"category", &client::enums::category}, {"topics", &client::enums::topic},
        {"outcome", &client::enums::outcome},   {"lang", &client::enums::language}};
    return find_in(k_enums, field);
}

} // namespace

std::string record_word(Context& ctx, std::string_view entity_type) {
    const Message* word = record_message(entity_type);
    return word ? std::string(phrase(ctx, *word)) : shown(entity_type);
}

std::string field_word(Context& ctx, std::string_view field) {
    const Message* word = field_message(field);
    return word ? std::string(phrase(ctx, *word)) : shown(field);
}

std::string value_text(Context& ctx, std::string_view field, const json& value) {
    if (value.is_null()) {
        // A cleared vulnerable flag is an answer ("not recorded"); other fields are just empty.
        return field == "vulnerable" ? std::string(phrase(ctx, msg::word_not_recorded)) : "—";
    }
    if (value.is_boolean()) {
        return yes_no(ctx, value.get<bool>());
    }
    const client::Enumeration* e = enumeration_of(field);
    if (e && value.is_string()) {
        return label(ctx, *e, value.get<std::string>());
    }
    if (e && value.is_array()) {
        std::vector<std::string> codes;
        for (const json& item : value) {
            codes.push_back(item.is_string() ? item.get<std::string>() : item.dump());
        }
        return labels(ctx, *e, codes);
    }
    if (value.is_string()) {
        const std::string& text = value.get_ref<const std::string&>();
        return field.ends_with("_id") ? client::short_id(text) : shown(text);
    }
    return shown(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string who(Context& ctx, const Lawyers& lawyers, const std::string& device_id) {
    const auto it = lawyers.find(device_id);
    if (it != lawyers.end() && !it->second.empty()) {
        return shown(it->second);
    }
    return std::string(phrase(ctx, msg::word_device)) + " " + client::short_id(device_id);
}

std::string who_when(Context& ctx, const Lawyers& lawyers, std::string_view version) {
    const auto a = client::authorship(version);
    if (!a) {
        return shown(version);
    }
    return who(ctx, lawyers, a->device_id) + ", " + client::local_minute(a->time_utc);
}

} // namespace caravan::cli
