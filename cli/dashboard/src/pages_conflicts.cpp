// Conflicts, readable (coordinators only: the values are what people told the lawyers): each
// field two lawyers changed without seeing each other's change, the value kept and the value
// overwritten, each with the lawyer's name and the local time, never a device id or a clock
// value. Each row names the record's village, its visit's date and its region; 50 rows a page
// in the list's order, with previous and next links. A region-scoped account sees the conflicts
// of records in its regions only. The page's rows are read from the projections' conflicts
// table (the rows of `caravan-server conflicts`), counted and ordered in SQL
// (client::exports::find_conflicts); places and names from client/exports' record reads.

#include <algorithm>
#include <functional>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/authorship.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/export/records.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/dashboard/messages.hpp"
#include "server_device.hpp"

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

// Which conflict of a record's field a form names: a digest of its two versions (the page
// never shows a version: it holds a device id).
std::string row_key(const client::ConflictEntry& c) {
    return client::sha256_hex(c.a_version + "\n" + c.b_version).substr(0, 16);
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
using ex::ConflictKey;

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
        CARAVAN_TRY(lawyers, ex::device_lawyers(store.database()));
        // The account's conflicts, a page of them read in SQL (a scoped account's by the
        // region of each record).
        std::function<bool(const std::string&)> sees;
        if (!page.account.regions.empty()) {
            sees = [&](const std::string& region) { return page.account.sees(region); };
        }
        CARAVAN_TRY(found, ex::find_conflicts(store.database(), sees, after, before,
                                              static_cast<int>(k_conflict_page_rows)));
        const auto begin = static_cast<std::size_t>(found.offset);
        const auto end = begin + found.rows.size();
        total = static_cast<std::size_t>(found.total);
        first = begin + 1;
        last = end;
        if (begin > 0 && begin < end) {
            previous_key = key_of(found.rows.front().entry);
        }
        if (end < total && begin < end) {
            next_key = key_of(found.rows.back().entry);
        }
        for (const ex::ConflictRow& row : found.rows) {
            const client::ConflictEntry& c = row.entry;
            const std::optional<ex::RecordPlace>& place = row.place;
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
                {"place", place_text(place)},
                {"is_consultation", c.entity_type == "consultation"},
                {"entity_id", c.entity_id},
                {"field", c.delete_vs_edit() ? std::string() : word(page, c.field)},
                {"field_code", c.field},
                {"kept", kept_text},
                {"kept_by", who_when(page, lawyers, kept.version)},
                {"lost", lost_text},
                {"lost_by", who_when(page, lawyers, lost.version)},
                {"entity_type", c.entity_type},
                {"row", row_key(c)},
                {"keep_kept", tr(page, c.delete_vs_edit() ? msg::keep_deleted : msg::keep_value)},
                {"keep_lost", tr(page, c.delete_vs_edit() ? msg::bring_back : msg::keep_value)},
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
        {"col_overwritten", tr(page, msg::col_overwritten)},
        {"notice", page.form.has("resolved") ? tr(page, msg::conflict_resolved) : std::string()}};
    if (previous_key) {
        context.emplace("previous_key", web::url_encode(key_text(*previous_key)));
    }
    if (next_key) {
        context.emplace("next_key", web::url_encode(key_text(*next_key)));
    }
    return render_page(page, "conflicts", tr(page, msg::conflicts_title), std::move(context));
}

// The event that keeps `keep`'s side of `c`: the field's value on that side (for a delete
// against an edit: the delete again, or the record brought back), based on every field version
// the server holds for the record and naming the conflicts it settles (docs/sync-algorithm.md 2.3).
Result<storage::Event> keeping_event(storage::Database& db, const client::EntityDef& def,
                                     const client::ConflictEntry& c, bool keep_kept) {
    CARAVAN_TRY(base, client::Projector(db).field_versions(def, c.entity_id));
    storage::Event e;
    e.entity_type = c.entity_type;
    e.entity_id = c.entity_id;
    e.op = std::string(client::k_op_update);
    json fields;
    if (c.delete_vs_edit()) {
        if (keep_kept) {
            e.op = std::string(client::k_op_delete);
        }
        fields[std::string(client::k_deleted_field)] = keep_kept;
    } else {
        const auto side = keep_kept ? c.kept() : c.overwritten();
        fields[c.field] = json::parse(side.value);
    }
    // The conflicts the server lists on the field written: this one, and any other pair on it.
    CARAVAN_TRY(settled, client::Projector(db).settled_by(def, c.entity_id, fields));
    json payload{{"fields", std::move(fields)}};
    if (!base.empty()) {
        payload["base"] = std::move(base);
    }
    if (!settled.empty()) {
        payload[std::string(client::k_settles_key)] = std::move(settled);
    }
    e.payload = payload.dump();
    return e;
}

// POST /conflicts/keep: type, id, field, row (row_key) and keep ("kept" or "overwritten").
// The conflict is read again under the write lock: gone (settled meanwhile, a second click,
// another coordinator) is 409 and nothing is written.
web::Answer post_keep(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::coordinators_only, 403);
    }
    const std::string type = page.form.get("type");
    const std::string id = page.form.get("id");
    const std::string field = page.form.get("field");
    const std::string row = page.form.get("row");
    const std::string keep = page.form.get("keep");
    const client::EntityDef* def = client::find_entity(type);
    if (!def || (keep != "kept" && keep != "overwritten")) {
        return message_page(page, msg::conflict_gone, 409);
    }
    enum class Outcome { written, gone, outside };
    Outcome outcome = Outcome::gone;
    Result<void> done;
    // Another server process may take the server device's next seq first (PostgreSQL): read
    // again and retry, a few times.
    for (int attempt = 0; attempt < 3; ++attempt) {
        done = page.services.with_store(true, [&](Store& store) -> Result<void> {
            CARAVAN_TRY_VOID(store.refresh());
            CARAVAN_TRY(region, ex::record_region(store.database(), type, id));
            if (!page.account.regions.empty() && (!region || !page.account.sees(*region))) {
                outcome = Outcome::outside;
                return {};
            }
            CARAVAN_TRY(list, store.feed().conflicts());
            const auto c = std::find_if(list.begin(), list.end(), [&](const auto& x) {
                return x.entity_type == type && x.entity_id == id && x.field == field &&
                       row_key(x) == row;
            });
            if (c == list.end()) {
                outcome = Outcome::gone;
                return {};
            }
            CARAVAN_TRY(event, keeping_event(store.database(), *def, *c, keep == "kept"));
            CARAVAN_TRY_VOID(write_as_server(store, {std::move(event)}));
            outcome = Outcome::written;
            return {};
        });
        if (done || done.error().code != ErrorCode::busy) {
            break;
        }
    }
    if (!done) {
        page.services.log("dashboard error=conflict_keep code=" +
                          std::string(to_string(done.error().code)) + " " + done.error().message);
        return message_page(page, msg::server_error, 503);
    }
    if (outcome == Outcome::outside) {
        return message_page(page, msg::record_not_found, 404);
    }
    if (outcome == Outcome::gone) {
        return message_page(page, msg::conflict_gone, 409);
    }
    page.services.audit(page.account.name, "conflict_resolved",
                        "record=" + type + ":" + id + " field=" + field + " side=" + keep);
    return web::redirect("/conflicts?resolved=1");
}

} // namespace

void add_conflict_routes(Routes& routes) {
    routes.get["/conflicts"] = get_conflicts;
    routes.post["/conflicts/keep"] = post_keep;
}

} // namespace caravan::dashboard
