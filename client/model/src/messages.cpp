#include "caravan/client/messages.hpp"

namespace caravan::client::msg {

MessageArg field(std::string_view name) {
    static constexpr const Message* k_fields[] = {
        &field_lawyer,       &field_region,    &field_district, &field_village,     &field_visit,
        &field_consultation, &field_name,      &field_date,     &field_question,    &field_advice,
        &field_caption,      &field_file_name, &field_lat,      &field_lon,         &field_from,
        &field_to,           &field_gender,    &field_age,      &field_category,    &field_topic,
        &field_outcome,      &field_lang,      &field_count,    &field_respondents, &field_vulnerable,
    };
    for (const Message* word : k_fields) {
        if (word->en == name) {
            return *word;
        }
    }
    return name;
}

} // namespace caravan::client::msg
