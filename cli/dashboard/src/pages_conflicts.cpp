// Conflicts, readable (coordinators only: the values are what people told the lawyers): each
// field two lawyers changed without seeing each other's change, the value kept and the value
// overwritten, each with the lawyer's name and the local time, never a device id or a clock
// value. A region-scoped account sees the conflicts of records in its regions only. The list
// comes from the server's feed (the same as `caravan-server conflicts`); regions and names
// from client/exports' record reads.

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/authorship.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/export/records.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"

namespace caravan::dashboard {
namespace {

namespace ex = client::exports;
using nlohmann::json;
using sync::server::Store;

std::string word(const Page& page, std::string_view name) {
    if (const client::JournalColumn* c = client::find_journal_column(name)) {
        return std::string(c->header(page.lang));
    }
    const MessageArg w = client::msg::field(name == "visit_id" ? "visit" : name);
    return w.word ? tr(page, *w.word) : std::string(name);
}

// A stored value as a person reads it: labels for codes, yes/no, "not recorded" for none.
std::string shown_value(const Page& page, const std::string& type, const std::string& field,
                        const std::string& stored) {
    const json value = json::parse(stored, nullptr, false);
    const client::EntityDef* entity = client::find_entity(type);
    const client::FieldDef* def = entity ? entity->field(field) : nullptr;
    const client::Enumeration* e = def ? def->enumeration : nullptr;
    const auto label = [&](const json& v) {
        const std::string code = v.get<std::string>();
        return e ? std::string(e->label(code, page.lang)) : code;
    };
    if (value.is_discarded()) {
        return stored;
    }
    if (value.is_null()) {
        return tr(page, msg::not_recorded);
    }
    if (value.is_boolean()) {
        return tr(page, value.get<bool>() ? msg::met_yes : msg::met_no);
    }
    if (value.is_string()) {
        return label(value);
    }
    if (value.is_array()) {
        std::string out;
        for (const auto& item : value) {
            out += (out.empty() ? "" : std::string(client::k_topic_separator)) +
                   (item.is_string() ? label(item) : item.dump());
        }
        return out;
    }
    return value.dump();
}

std::string who_when(const Page& page, const std::map<std::string, std::string>& lawyers,
                     const std::string& version) {
    const auto a = client::authorship(version);
    if (!a) {
        return tr(page, msg::lawyer_unknown);
    }
    const auto it = lawyers.find(a->device_id);
    const std::string who =
        it != lawyers.end() && !it->second.empty() ? it->second : tr(page, msg::lawyer_unknown);
    return tr(page, msg::conflict_by, {who, web::local_time(a->time_utc)});
}

web::Answer get_conflicts(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_records, 403);
    }
    mstch::array rows;
    auto read = page.services.with_store(false, [&](Store& store) -> Result<void> {
        CARAVAN_TRY(list, store.feed().conflicts());
        CARAVAN_TRY(lawyers, ex::device_lawyers(store.database()));
        for (const auto& c : list) {
            CARAVAN_TRY(region, ex::record_region(store.database(), c.entity_type, c.entity_id));
            if (!page.account.regions.empty() && (!region || !page.account.sees(*region))) {
                continue;
            }
            const auto kept = c.kept();
            const auto lost = c.overwritten();
            std::string kept_text, lost_text;
            if (c.delete_vs_edit()) {
                kept_text = tr(page, msg::conflict_deleted_kept);
                if (!c.record_deleted) {
                    kept_text += " — " + tr(page, msg::conflict_restored_since);
                }
                lost_text = tr(page, msg::conflict_edit_hidden);
            } else {
                kept_text = shown_value(page, c.entity_type, c.field, kept.value);
                lost_text = shown_value(page, c.entity_type, c.field, lost.value);
            }
            rows.push_back(mstch::map{
                {"record", word(page, c.entity_type)},
                {"place", region.value_or("")},
                {"is_consultation", c.entity_type == "consultation"},
                {"entity_id", c.entity_id},
                {"field", c.delete_vs_edit() ? std::string() : word(page, c.field)},
                {"field_code", c.field},
                {"kept", kept_text},
                {"kept_by", who_when(page, lawyers, kept.version)},
                {"lost", lost_text},
                {"lost_by", who_when(page, lawyers, lost.version)},
            });
        }
        return {};
    });
    if (!read) {
        page.services.log("dashboard error=conflicts code=" +
                          std::string(to_string(read.error().code)));
        return message_page(page, msg::server_error, 503);
    }
    return render_page(page, "conflicts", tr(page, msg::conflicts_title),
                       {{"intro", tr(page, msg::conflicts_intro)},
                        {"none", tr(page, msg::conflicts_none)},
                        {"empty", rows.empty()},
                        {"rows", rows},
                        {"col_record", tr(page, msg::col_record)},
                        {"col_field", tr(page, msg::col_field)},
                        {"col_kept", tr(page, msg::col_kept)},
                        {"col_overwritten", tr(page, msg::col_overwritten)}});
}

} // namespace

void add_conflict_routes(Routes& routes) {
    routes.get["/conflicts"] = get_conflicts;
}

} // namespace caravan::dashboard
