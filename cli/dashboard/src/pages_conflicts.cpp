// Conflicts, readable (coordinators only: the values are what people told the lawyers): each
// field two lawyers changed without seeing each other's change, the value kept and the value
// overwritten, each with the lawyer's name and the local time, never a device id or a clock
// value. Each row names the record's village, its visit's date and its region; 50 rows a page
// in the list's order, with previous and next links. A region-scoped account sees the conflicts
// of records in its regions only. The list comes from the server's feed (the same as
// `caravan-server conflicts`); places and names from client/exports' record reads.

#include <algorithm>
#include <array>

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

constexpr std::size_t k_conflict_page_rows = 50;

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

// A conflict's place in the list's order (the feed's: kind, record, field, versions), as a
// page link carries it: the five parts joined by spaces (none of them holds one).
using ConflictKey = std::array<std::string, 5>;

ConflictKey key_of(const client::ConflictEntry& c) {
    return {c.entity_type, c.entity_id, c.field, c.a_version, c.b_version};
}

std::string key_text(const ConflictKey& key) {
    std::string out;
    for (const auto& part : key) {
        out += (out.empty() ? "" : " ") + part;
    }
    return out;
}

std::optional<ConflictKey> key_from(const std::string& text) {
    ConflictKey key;
    std::size_t from = 0;
    for (std::size_t i = 0; i < key.size(); ++i) {
        const std::size_t space = i + 1 < key.size() ? text.find(' ', from) : text.size();
        if (space == std::string::npos) {
            return std::nullopt;
        }
        key[i] = text.substr(from, space - from);
        from = space + 1;
    }
    return key;
}

// The rows of one page: [begin, end) of the account's conflicts in the list's order. `after`
// starts after a key (the next page), `before` ends before one (the previous page); neither:
// the first page.
std::pair<std::size_t, std::size_t> page_bounds(const std::vector<ConflictKey>& keys,
                                                const std::optional<ConflictKey>& after,
                                                const std::optional<ConflictKey>& before) {
    if (after) {
        const auto begin = std::upper_bound(keys.begin(), keys.end(), *after) - keys.begin();
        const auto b = static_cast<std::size_t>(begin);
        return {b, std::min(b + k_conflict_page_rows, keys.size())};
    }
    if (before) {
        const auto end = std::lower_bound(keys.begin(), keys.end(), *before) - keys.begin();
        const auto e = static_cast<std::size_t>(end);
        return {e > k_conflict_page_rows ? e - k_conflict_page_rows : 0, e};
    }
    return {0, std::min(k_conflict_page_rows, keys.size())};
}

// The place shown under the record's kind: its village, its visit's date, its region (those
// it has).
std::string place_text(const std::optional<ex::RecordPlace>& place) {
    std::string out;
    if (place) {
        for (const auto* part : {&place->village, &place->date, &place->region}) {
            if (*part && !(*part)->empty()) {
                out += (out.empty() ? "" : " · ") + **part;
            }
        }
    }
    return out;
}

web::Answer get_conflicts(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_records, 403);
    }
    const auto after = key_from(page.form.get("after"));
    const auto before = after ? std::nullopt : key_from(page.form.get("before"));
    mstch::array rows;
    std::size_t first = 0, last = 0, total = 0;
    std::optional<ConflictKey> previous_key, next_key;
    auto read = page.services.with_store(false, [&](Store& store) -> Result<void> {
        CARAVAN_TRY(list, store.feed().conflicts());
        CARAVAN_TRY(lawyers, ex::device_lawyers(store.database()));
        std::sort(list.begin(), list.end(),
                  [](const auto& x, const auto& y) { return key_of(x) < key_of(y); });
        // The account's conflicts; a scoped account's are known by their region, so their
        // places are read for all of them, an unscoped account's for the page's rows only.
        std::vector<const client::ConflictEntry*> mine;
        std::vector<std::optional<ex::RecordPlace>> places;
        std::vector<ConflictKey> keys;
        const bool scoped = !page.account.regions.empty();
        for (const auto& c : list) {
            std::optional<ex::RecordPlace> place;
            if (scoped) {
                CARAVAN_TRY(p, ex::record_place(store.database(), c.entity_type, c.entity_id));
                if (!p || !p->region || !page.account.sees(*p->region)) {
                    continue;
                }
                place = std::move(p);
            }
            mine.push_back(&c);
            places.push_back(std::move(place));
            keys.push_back(key_of(c));
        }
        const auto [begin, end] = page_bounds(keys, after, before);
        total = keys.size();
        first = begin + 1;
        last = end;
        if (begin > 0 && begin < end) {
            previous_key = keys[begin];
        }
        if (end < keys.size() && begin < end) {
            next_key = keys[end - 1];
        }
        for (std::size_t i = begin; i < end; ++i) {
            const client::ConflictEntry& c = *mine[i];
            if (!scoped) {
                CARAVAN_TRY(p, ex::record_place(store.database(), c.entity_type, c.entity_id));
                places[i] = std::move(p);
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
                {"place", place_text(places[i])},
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
    mstch::map context{
        {"intro", tr(page, msg::conflicts_intro)},
        {"none", tr(page, msg::conflicts_none)},
        {"empty", rows.empty()},
        {"rows", rows},
        {"summary", tr(page, msg::conflicts_shown,
                       {static_cast<std::int64_t>(first), static_cast<std::int64_t>(last),
                        static_cast<std::int64_t>(total)})},
        {"previous", previous_key.has_value()},
        {"previous_page", tr(page, msg::previous_page)},
        {"next", next_key.has_value()},
        {"next_page", tr(page, msg::next_page)},
        {"col_record", tr(page, msg::col_record)},
        {"col_field", tr(page, msg::col_field)},
        {"col_kept", tr(page, msg::col_kept)},
        {"col_overwritten", tr(page, msg::col_overwritten)}};
    if (previous_key) {
        context.emplace("previous_key", web::url_encode(key_text(*previous_key)));
    }
    if (next_key) {
        context.emplace("next_key", web::url_encode(key_text(*next_key)));
    }
    return render_page(page, "conflicts", tr(page, msg::conflicts_title), std::move(context));
}

} // namespace

void add_conflict_routes(Routes& routes) {
    routes.get["/conflicts"] = get_conflicts;
}

} // namespace caravan::dashboard
