#include "caravan/client/entities.hpp"

#include <array>

#include "caravan/client/domain.hpp"

namespace caravan::client {

namespace {

using enum FieldType;

const FieldDef k_device[] = {
    {"lawyer", text, nullptr, true},
    {"region", text, nullptr, true},
    {"deleted", boolean},
};

const FieldDef k_village[] = {
    {"name", text, nullptr, true},
    {"region", text, nullptr, true},
    {"district", text},
    {"lat", real},
    {"lon", real},
    {"deleted", boolean},
};

const FieldDef k_visit[] = {
    {"village_id", text, nullptr, true},
    {"date", text, nullptr, true},
    {"lawyer", text, nullptr, true},
    {"closed", boolean},
    {"deleted", boolean},
};

const FieldDef k_consultation[] = {
    {"visit_id", text, nullptr, true},
    {"lawyer", text, nullptr, true},
    {"gender", text, &enums::gender, true},
    {"age", text, &enums::age, true},
    {"category", text, &enums::category, true},
    {"vulnerable", boolean},
    {"topics", text_list, &enums::topic, true},
    {"outcome", text, &enums::outcome, true},
    {"question", text},
    {"advice", text},
    {"follow_up", boolean},
    {"lang", text, &enums::language},
    {"deleted", boolean},
};

const FieldDef k_attendance[] = {
    {"visit_id", text, nullptr, true},
    {"gender", text, &enums::gender, true},
    {"age", text, &enums::age, true},
    {"category", text, &enums::category, true},
    {"vulnerable", boolean},
    {"count", integer, nullptr, true},
    {"deleted", boolean},
};

const FieldDef k_survey[] = {
    {"visit_id", text, nullptr, true},
    {"respondents", integer, nullptr, true},
    {"satisfied", integer, nullptr, true},
    {"deleted", boolean},
};

const FieldDef k_photo[] = {
    {"visit_id", text, nullptr, true},
    {"sha256", text, nullptr, true},
    {"size", integer, nullptr, true},
    {"file_name", text},
    {"taken_at", text},
    {"lat", real},
    {"lon", real},
    {"caption", text},
    {"consent", boolean},
    {"deleted", boolean},
};

} // namespace

namespace entities {
const EntityDef device{"device", "devices", k_device};
const EntityDef village{"village", "villages", k_village};
const EntityDef visit{"visit", "visits", k_visit};
const EntityDef consultation{"consultation", "consultations", k_consultation};
const EntityDef attendance{"attendance", "attendance", k_attendance};
const EntityDef survey{"survey", "surveys", k_survey};
const EntityDef photo{"photo", "photos", k_photo};
} // namespace entities

namespace {
const std::array<const EntityDef*, 7> k_all = {
    &entities::device,       &entities::village, &entities::visit, &entities::consultation,
    &entities::attendance,   &entities::survey,  &entities::photo,
};
} // namespace

std::span<const EntityDef* const> all_entities() { return k_all; }

const EntityDef* find_entity(std::string_view type) {
    for (const EntityDef* def : k_all) {
        if (def->type == type) {
            return def;
        }
    }
    return nullptr;
}

const FieldDef* EntityDef::field(std::string_view name) const {
    for (const FieldDef& f : fields) {
        if (f.name == name) {
            return &f;
        }
    }
    return nullptr;
}

} // namespace caravan::client
