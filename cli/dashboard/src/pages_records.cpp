// The record browser (coordinators only: it shows what people told the lawyers): consultations
// found by region, period, village, topic, outcome and words, a bounded page at a time, newest
// first, each opening a page with the consultation and its history (lawyers' names and local
// times). Region scope: a scoped account searches its regions only, and a consultation of
// another region is "not found" (404), exactly as one that does not exist. Reads come from
// client/exports' record reads on a connection lent from the server's pool.

#include "app.hpp"
#include "caravan/client/domain.hpp"
#include "caravan/client/export/records.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"
#include "report_scope.hpp"

namespace caravan::dashboard {
namespace {

namespace ex = client::exports;
using sync::server::Store;

constexpr int k_page_rows = 50;

// An enumeration's choices for a select, the form's value chosen.
mstch::array choices(const Page& page, const client::Enumeration& e, const std::string& field) {
    const std::string chosen = page.form.get(field);
    mstch::array out;
    for (const auto& v : e.values) {
        out.push_back(mstch::map{{"code", std::string(v.code)},
                                 {"label", std::string(v.label(page.lang))},
                                 {"chosen", v.code == chosen}});
    }
    return out;
}

std::optional<std::string> optional_field(const Page& page, const std::string& name) {
    std::string value = page.form.get(name);
    return value.empty() ? std::nullopt : std::optional(std::move(value));
}

std::string topic_labels(const Page& page, const std::vector<std::string>& codes) {
    std::string out;
    for (const auto& code : codes) {
        out += (out.empty() ? "" : std::string(client::k_topic_separator)) +
               std::string(client::enums::topic.label(code, page.lang));
    }
    return out;
}

// A field's label: the journal's column header, else the catalog's word for the field.
std::string field_label(const Page& page, std::string_view name) {
    if (const client::JournalColumn* c = client::find_journal_column(name)) {
        return std::string(c->header(page.lang));
    }
    const MessageArg word = client::msg::field(name == "visit_id" ? "visit" : name);
    return word.word ? tr(page, *word.word) : std::string(name);
}

// The form's search, for the links of the next and first page.
std::string search_query(const Page& page) {
    std::string out;
    for (const char* name : {"region", "from", "to", "village", "topic", "outcome", "q", "visit"}) {
        out +=
            std::string(out.empty() ? "" : "&") + name + "=" + web::url_encode(page.form.get(name));
    }
    return out;
}

web::Answer records_page(const Page& page, mstch::map extra, int status = 200) {
    return scope_page(
        page, "records", msg::records_title,
        [&] {
            mstch::map c{
                {"field_village", field_label(page, "village")},
                {"field_topic", field_label(page, "topics")},
                {"field_outcome", field_label(page, "outcome")},
                {"field_text", tr(page, msg::field_text)},
                {"any_value", tr(page, msg::any_value)},
                {"search_button", tr(page, msg::search_button)},
                {"village_value", page.form.get("village")},
                {"q_value", page.form.get("q")},
                {"visit_value", page.form.get("visit")},
                {"of_visit", page.form.has("visit") && !page.form.get("visit").empty()},
                {"of_visit_text", tr(page, msg::records_of_visit)},
                {"records_all", tr(page, msg::records_all)},
                {"topics", choices(page, client::enums::topic, "topic")},
                {"outcomes", choices(page, client::enums::outcome, "outcome")},
            };
            for (auto& [k, v] : extra) {
                c[k] = v;
            }
            return c;
        }(),
        status);
}

web::Answer get_records(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_records, 403);
    }
    std::optional<ex::RecordCursor> after;
    if (page.form.has("after_id")) {
        after = ex::RecordCursor{page.form.get("after_date"), page.form.get("after_visit"),
                                 page.form.get("after_id")};
    }
    ex::RecordFilter filter;
    filter.village = optional_field(page, "village");
    filter.topic = optional_field(page, "topic");
    filter.outcome = optional_field(page, "outcome");
    filter.text = optional_field(page, "q");
    filter.visit = optional_field(page, "visit");
    auto found =
        compute_in_scope<ex::RecordPage>(page, [&](storage::Database& db, const ex::Scope& scope) {
            filter.scope = scope;
            return ex::find_records(db, filter, after, k_page_rows);
        });
    if (!found) {
        return records_page(page, {{"error", found.error().text}}, found.error().status);
    }
    const ex::RecordPage& result = found->second;
    mstch::array rows;
    for (const auto& r : result.rows) {
        rows.push_back(mstch::map{
            {"id", r.id},
            {"date", r.date},
            {"region", r.region},
            {"village", r.village},
            {"lawyer", r.lawyer},
            {"topics", topic_labels(page, r.topics)},
            {"outcome", std::string(client::enums::outcome.label(r.outcome, page.lang))},
            {"open", tr(page, msg::open_record)},
        });
    }
    mstch::map extra{
        {"report", true},
        {"summary", tr(page, msg::records_shown, {static_cast<std::int64_t>(rows.size())})},
        {"empty", rows.empty()},
        {"none", tr(page, msg::records_none)},
        {"rows", rows},
        {"col_date", field_label(page, "date")},
        {"col_region", field_label(page, "region")},
        {"col_village", field_label(page, "village")},
        {"col_lawyer", field_label(page, "lawyer")},
        {"col_topics", field_label(page, "topics")},
        {"col_outcome", field_label(page, "outcome")},
        {"query", search_query(page)},
        {"paged", after.has_value()},
        {"first_page", tr(page, msg::first_page)},
        {"next", result.next.has_value()},
        {"next_page", tr(page, msg::next_page)},
    };
    if (result.next) {
        extra.emplace("next_date", web::url_encode(result.next->date));
        extra.emplace("next_visit", web::url_encode(result.next->visit));
        extra.emplace("next_id", web::url_encode(result.next->id));
    }
    return records_page(page, std::move(extra));
}

std::string change_text(const Page& page, const ex::RecordChange& change) {
    if (change.op == "create") {
        return tr(page, msg::change_created);
    }
    if (change.op == "delete") {
        return tr(page, msg::change_deleted);
    }
    std::string fields;
    for (const auto& f : change.fields) {
        if (f != "deleted") {
            fields += (fields.empty() ? "" : ", ") + field_label(page, f);
        }
    }
    return tr(page, msg::change_updated, {fields});
}

web::Answer get_record(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_records, 403);
    }
    const std::string id = page.form.get("id");
    std::optional<ex::RecordDetail> record;
    std::vector<ex::RecordChange> history;
    auto read = page.services.with_store(false, [&](Store& store) -> Result<void> {
        CARAVAN_TRY(r, ex::read_record(store.database(), id));
        // Another region's consultation is not there for this account: nothing of it is read
        // further or shown.
        if (!r || !page.account.sees(r->summary.region)) {
            return {};
        }
        record = std::move(r);
        CARAVAN_TRY(h, ex::record_history(store.database(), id));
        history = std::move(h);
        return {};
    });
    if (!read) {
        page.services.log("dashboard error=record code=" +
                          std::string(to_string(read.error().code)));
        return message_page(page, msg::server_error, 503);
    }
    if (!record) {
        return message_page(page, msg::record_not_found, 404);
    }
    const ex::RecordDetail& r = *record;
    const auto yes_no = [&](bool v) { return tr(page, v ? msg::met_yes : msg::met_no); };
    const std::pair<std::string, std::string> shown[] = {
        {"date", r.summary.date},
        {"region", r.summary.region},
        {"village", r.summary.village},
        {"district", r.district.value_or("")},
        {"lawyer", r.summary.lawyer},
        {"gender", std::string(client::enums::gender.label(r.gender, page.lang))},
        {"age", std::string(client::enums::age.label(r.age, page.lang))},
        {"category", std::string(client::enums::category.label(r.category, page.lang))},
        {"vulnerable", r.vulnerable ? yes_no(*r.vulnerable) : tr(page, msg::not_recorded)},
        {"topics", topic_labels(page, r.summary.topics)},
        {"question", r.question},
        {"advice", r.advice},
        {"outcome", std::string(client::enums::outcome.label(r.summary.outcome, page.lang))},
        {"follow_up", yes_no(r.follow_up)},
        {"lang", r.lang ? std::string(client::enums::language.label(*r.lang, page.lang)) : ""},
    };
    mstch::array fields;
    for (const auto& [code, value] : shown) {
        fields.push_back(
            mstch::map{{"code", code}, {"label", field_label(page, code)}, {"value", value}});
    }
    mstch::array changes;
    for (const auto& c : history) {
        changes.push_back(mstch::map{
            {"when", web::local_time(sync::server::iso_utc(c.at_ms))},
            {"lawyer", c.lawyer.empty() ? tr(page, msg::lawyer_unknown) : c.lawyer},
            {"what", change_text(page, c)},
        });
    }
    page.services.audit(page.account.name, "record_viewed", "id=" + r.summary.id);
    return render_page(page, "record", tr(page, msg::record_title),
                       {{"back", tr(page, msg::back_to_records)},
                        {"fields", fields},
                        {"history_title", tr(page, msg::history_title)},
                        {"col_when", tr(page, msg::col_when)},
                        {"col_lawyer", field_label(page, "lawyer")},
                        {"col_change", tr(page, msg::col_change)},
                        {"history", changes}});
}

} // namespace

void add_record_routes(Routes& routes) {
    routes.get["/records"] = get_records;
    routes.get["/record"] = get_record;
}

} // namespace caravan::dashboard
