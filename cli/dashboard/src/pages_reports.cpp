// Journals and indicators: the journal of a region and period as CSV or XLSX (coordinators:
// it holds what people told the lawyers), and the indicators against an uploaded plan as a
// table and a bar chart drawn here as SVG, with the report's downloads. Both come from
// client/exports, the functions `caravan-server export journal` and `report indicators` call,
// on a connection lent from the server's pool (never its write lock); the CSV journal streams
// from the projection as it is read; any other download is built into a scratch file and
// streamed from it in pieces (web::send), so memory does not grow with either.

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/domain.hpp"
#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/plan.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"
#include "caravan/web/guard.hpp"
#include "chart.hpp"
#include "report_scope.hpp"

namespace caravan::dashboard {
namespace {

namespace ex = client::exports;
namespace fs = std::filesystem;
using sync::server::Store;

constexpr std::size_t k_max_plan_bytes = 64 * 1024;
constexpr std::size_t k_max_shown_warnings = 200; // on the page; the downloads list all

// A scratch file for a download (removed once sent, web::send).
fs::path scratch_file(ex::Format format) {
    std::error_code ec;
    fs::path dir = fs::temp_directory_path(ec);
    if (ec) {
        dir = "/tmp";
    }
    return dir / ("caravan-dashboard-" + web::random_token().substr(0, 24) + "." +
                  std::string(ex::to_string(format)));
}

// `build` writes the file under a read connection of its own; the answer streams it.
web::Answer download(const Page& page, ex::Format format, const std::string& what,
                     const std::function<Result<void>(Store&, const fs::path&)>& build) {
    const fs::path file = scratch_file(format);
    auto built = page.services.with_store(false, [&](Store& store) { return build(store, file); });
    if (!built) {
        std::error_code ignored;
        fs::remove(file, ignored);
        const Refusal r = refusal_of(page, built.error());
        return render_page(page, "message", r.text, {{"text", r.text}}, r.status);
    }
    web::Answer answer;
    answer.file = file;
    answer.content_type = std::string(ex::media_type(format));
    answer.download_name = "caravan-" + what + "." + std::string(ex::to_string(format));
    return answer;
}

// ---- journals --------------------------------------------------------------------------------

web::Answer journals_page(const Page& page, const std::string& error = {}, int status = 200) {
    mstch::map context = scope_context(page);
    context.emplace("intro", tr(page, msg::journals_intro));
    context.emplace("error", error);
    return render_page(page, "journals", tr(page, msg::journals_title), std::move(context), status);
}

web::Answer get_journals(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_journals, 403);
    }
    return journals_page(page);
}

// The CSV journal streamed from the projection as it is read (client/exports' cursor, in
// 64 KiB pieces: web::send), on a connection lent for the length of the download. The scope is
// checked first, so that a bad one is still a page with its reason.
web::Answer streamed_journal(const Page& page, const ex::Scope& asked) {
    std::optional<ex::Scope> resolved;
    auto checked = page.services.with_store(false, [&](Store& store) -> Result<void> {
        CARAVAN_TRY(r, ex::resolve_scope(store.database(), asked));
        resolved = std::move(r);
        return {};
    });
    if (!checked) {
        const Refusal r = refusal_of(page, checked.error());
        return render_page(page, "message", r.text, {{"text", r.text}}, r.status);
    }
    web::Answer answer;
    answer.content_type = std::string(ex::media_type(ex::Format::csv));
    answer.download_name = "caravan-journal.csv";
    answer.stream = [services = page.services,
                     request = ex::JournalRequest{*resolved, page.lang}](std::ostream& out) {
        return services.with_store(false, [&](Store& store) -> Result<void> {
            CARAVAN_TRY(written,
                        ex::write_journal(store.database(), request, ex::Format::csv, out));
            (void)written;
            return {};
        });
    };
    page.services.audit(page.account.name, "journal_downloaded",
                        scope_detail(asked, ex::Format::csv));
    return answer;
}

web::Answer get_journal_download(const Page& page) {
    if (!page.coordinator()) {
        return message_page(page, msg::viewers_no_journals, 403);
    }
    const ex::Format format =
        page.form.get("format") == "xlsx" ? ex::Format::xlsx : ex::Format::csv;
    auto scope = scope_of(page);
    if (!scope) {
        return journals_page(page, scope.error().text, scope.error().status);
    }
    if (format == ex::Format::csv) {
        return streamed_journal(page, *scope);
    }
    auto answer = download(page, format, "journal", [&](Store& store, const fs::path& file) {
        auto resolved = ex::resolve_scope(store.database(), *scope);
        if (!resolved) {
            return Result<void>(tl::unexpected(resolved.error()));
        }
        auto written = ex::export_journal(store.database(),
                                          ex::JournalRequest{*resolved, page.lang}, format, file);
        return written ? Result<void>{} : Result<void>(tl::unexpected(written.error()));
    });
    if (!answer.file.empty()) {
        page.services.audit(page.account.name, "journal_downloaded", scope_detail(*scope, format));
    }
    return answer;
}

// ---- indicators ------------------------------------------------------------------------------

const Message* indicator_name(std::string_view code) {
    static const std::pair<std::string_view, const Message*> k_names[] = {
        {"villages", &msg::ind_villages},
        {"visits", &msg::ind_visits},
        {"participants", &msg::ind_participants},
        {"consultations", &msg::ind_consultations},
        {"lawyers", &msg::ind_lawyers},
        {"journals", &msg::ind_journals},
        {"protected", &msg::ind_protected},
        {"satisfaction_percent", &msg::ind_satisfaction_percent},
        {"photos_per_visit", &msg::ind_photos_per_visit},
    };
    for (const auto& [code_of, name] : k_names) {
        if (code_of == code) {
            return name;
        }
    }
    return nullptr;
}

// A number as the report's JSON writes it (the chart and the table show exactly that).
std::string number(const std::optional<double>& value) {
    return value ? nlohmann::json(*value).dump() : std::string();
}

// A number as a person reads it: a count without decimals, anything else with one.
std::string shown(const std::optional<double>& value, bool whole) {
    if (!value) {
        return {};
    }
    char buf[64];
    if (whole) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(std::llround(*value)));
    } else {
        std::snprintf(buf, sizeof buf, "%.1f", *value);
    }
    return buf;
}

// A bar per indicator with a plan: achieved % of the plan, a line at 100 %. Every number it
// shows is in its data-* attributes, as the report's JSON has it.
std::string indicator_chart(const Page& page, const ex::IndicatorReport& report) {
    std::vector<Bar> bars;
    double top = 100;
    for (const auto& i : report.indicators) {
        if (!i.achieved_percent) {
            continue;
        }
        const Message* name = indicator_name(i.code);
        bars.push_back(Bar{name ? tr(page, *name) : i.code,
                           *i.achieved_percent,
                           shown(i.achieved_percent, false) + " %",
                           {{"code", i.code},
                            {"plan", number(i.plan)},
                            {"fact", number(i.fact)},
                            {"achieved", number(i.achieved_percent)}},
                           i.met && *i.met});
        top = std::max(top, *i.achieved_percent);
    }
    return svg_bars("chart", tr(page, msg::chart_title), bars,
                    std::min(std::ceil(top / 50) * 50, 300.0), ReferenceLine{100, "100 %"});
}

Checked<std::string> plan_text(const Page& page) {
    std::string text;
    for (const auto& upload : page.form.uploads) {
        if (upload.field == "plan") {
            text = upload.content;
        }
    }
    if (text.empty()) {
        text = page.form.get("plan_text");
    }
    if (text.empty()) {
        return tl::unexpected(Refusal{tr(page, msg::plan_missing)});
    }
    if (text.size() > k_max_plan_bytes) {
        return tl::unexpected(Refusal{tr(page, msg::plan_too_large), 413});
    }
    return text;
}

web::Answer indicators_page(const Page& page, mstch::map extra, int status = 200) {
    mstch::map context = scope_context(page);
    context.emplace("plan_label", tr(page, msg::plan_file));
    context.emplace("plan_button", tr(page, msg::plan_button));
    for (auto& [k, v] : extra) {
        context[k] = v;
    }
    return render_page(page, "indicators", tr(page, msg::indicators_title), std::move(context),
                       status);
}

web::Answer get_indicators(const Page& page) {
    return indicators_page(page, {});
}

web::Answer post_indicators(const Page& page) {
    const auto refuse = [&](const Refusal& r) {
        return indicators_page(page, {{"error", r.text}}, r.status);
    };
    auto text = plan_text(page);
    if (!text) {
        return refuse(text.error());
    }
    auto plan = ex::parse_plan(*text, "plan");
    if (!plan) {
        return refuse(Refusal{client::localize(plan.error(), page.lang)});
    }
    auto scope = scope_of(page);
    if (!scope) {
        return refuse(scope.error());
    }
    std::optional<ex::IndicatorReport> report;
    auto computed = page.services.with_store(false, [&](Store& store) -> Result<void> {
        // Keyed by the plan's text: the report is a function of the plan it parses to.
        auto r = page.services.reports().get<ex::IndicatorReport>(
            store, report_key("indicators " + std::to_string(text->size()) + ":" + *text, *scope),
            [&](storage::Database& db) { return ex::compute_indicators(db, *plan, *scope); });
        if (!r) {
            return tl::unexpected(r.error());
        }
        report = std::move(*r);
        return {};
    });
    if (!computed) {
        return refuse(refusal_of(page, computed.error()));
    }
    const std::string format = page.form.get("format");
    if (format == "csv" || format == "xlsx" || format == "json") {
        const ex::Format f = *ex::parse_format(format);
        auto answer = download(page, f, "indicators", [&](Store&, const fs::path& file) {
            return ex::export_indicators(*report, f, page.lang, file);
        });
        if (!answer.file.empty()) {
            page.services.audit(page.account.name, "indicators_downloaded",
                                scope_detail(*scope, f));
        }
        return answer;
    }
    mstch::array rows;
    for (const auto& i : report->indicators) {
        const Message* name = indicator_name(i.code);
        rows.push_back(mstch::map{
            {"code", i.code},
            {"name", name ? tr(page, *name) : i.code},
            {"plan", shown(i.plan, i.whole)},
            {"fact", shown(i.fact, i.whole)},
            {"achieved", shown(i.achieved_percent, false)},
            {"met", i.met ? tr(page, *i.met ? msg::met_yes : msg::met_no) : std::string()},
            {"not_met", i.met && !*i.met},
        });
    }
    // The page lists the first warnings only: a programme's million events hold tens of
    // thousands, which a page cannot render in time nor a person read; the downloads hold all.
    mstch::array warnings;
    for (const auto& w : report->warnings) {
        if (warnings.size() == k_max_shown_warnings) {
            warnings.push_back(mstch::map{
                {"text", tr(page, msg::warnings_more,
                            {static_cast<std::int64_t>(report->warnings.size() -
                                                       k_max_shown_warnings)})}});
            break;
        }
        // A coordinator follows a visit's warning to that visit's consultations (a viewer
        // sees aggregates only: no link).
        const bool link = page.coordinator() && !w.visit_id.empty();
        warnings.push_back(mstch::map{
            {"text", ex::describe(w, page.lang)},
            {"link", link},
            {"visit_q", link ? web::url_encode(w.visit_id) : std::string()},
            {"region_q", link ? web::url_encode(w.region) : std::string()},
            {"open", tr(page, msg::warning_open_visit)}});
    }
    page.services.audit(page.account.name, "indicators_viewed",
                        scope_detail(*scope, ex::Format::text));
    return indicators_page(page, {{"report", true},
                                  {"rows", rows},
                                  {"chart", indicator_chart(page, *report)},
                                  {"chart_title", tr(page, msg::chart_title)},
                                  {"col_indicator", tr(page, msg::col_indicator)},
                                  {"col_plan", tr(page, msg::col_plan)},
                                  {"col_fact", tr(page, msg::col_fact)},
                                  {"col_achieved", tr(page, msg::col_achieved)},
                                  {"col_met", tr(page, msg::col_met)},
                                  {"warnings_title", tr(page, msg::warnings_title)},
                                  {"warnings", warnings},
                                  {"has_warnings", !warnings.empty()},
                                  {"plan_text", *text}});
}

// ---- breakdowns ------------------------------------------------------------------------------

std::string value_label(const Page& page, const std::string& table, const std::string& code) {
    if (code == client::k_unrecorded) {
        return tr(page, msg::not_recorded);
    }
    if (table == "vulnerable") {
        return code == "yes" ? tr(page, msg::met_yes) : code == "no" ? tr(page, msg::met_no) : code;
    }
    const client::Enumeration* e = table == "gender"     ? &client::enums::gender
                                   : table == "age"      ? &client::enums::age
                                   : table == "category" ? &client::enums::category
                                                         : nullptr;
    return e ? std::string(e->label(code, page.lang)) : code;
}

std::string table_title(const Page& page, const std::string& table) {
    if (table == "vulnerable") {
        return tr(page, msg::table_vulnerable);
    }
    const MessageArg word = client::msg::field(table);
    return word.word ? tr(page, *word.word) : table;
}

std::string share_text(std::int64_t part, std::int64_t total) {
    return total > 0 ? shown(100.0 * static_cast<double>(part) / static_cast<double>(total), false)
                     : std::string("0.0");
}

web::Answer get_breakdowns(const Page& page) {
    const auto page_with = [&](mstch::map extra, int status) {
        return scope_page(page, "breakdowns", msg::breakdowns_title, std::move(extra), status);
    };
    auto computed =
        compute_in_scope<ex::Breakdown>(page, "breakdown",
                                         [](storage::Database& db, const ex::Scope& scope) {
                                             return ex::compute_breakdown(db, scope);
                                         });
    if (!computed) {
        return page_with({{"error", computed.error().text}}, computed.error().status);
    }
    const ex::Scope* scope = &computed->first;
    const ex::Breakdown* breakdown = &computed->second;
    const std::string format = page.form.get("format");
    if (format == "csv" || format == "xlsx" || format == "json") {
        const ex::Format f = *ex::parse_format(format);
        auto answer = download(page, f, "breakdown", [&](Store&, const fs::path& file) {
            return ex::export_breakdown(*breakdown, f, page.lang, file);
        });
        if (!answer.file.empty()) {
            page.services.audit(page.account.name, "breakdown_downloaded", scope_detail(*scope, f));
        }
        return answer;
    }
    mstch::array tables;
    for (const auto& t : breakdown->tables) {
        mstch::array rows;
        std::vector<Bar> bars;
        std::int64_t top = 1;
        for (const auto& r : t.rows) {
            const std::string label = value_label(page, t.code, r.code);
            rows.push_back(mstch::map{{"label", label},
                                      {"participants", std::to_string(r.participants)},
                                      {"share", share_text(r.participants, t.total)},
                                      {"unrecorded", r.code == client::k_unrecorded}});
            bars.push_back(Bar{label,
                               static_cast<double>(r.participants),
                               std::to_string(r.participants),
                               {{"table", t.code},
                                {"code", r.code},
                                {"participants", std::to_string(r.participants)}}});
            top = std::max(top, r.participants);
        }
        tables.push_back(mstch::map{{"title", table_title(page, t.code)},
                                    {"code", t.code},
                                    {"rows", rows},
                                    {"total", std::to_string(t.total)},
                                    {"total_share", share_text(t.total, t.total)},
                                    {"chart", svg_bars("chart-" + t.code, table_title(page, t.code),
                                                       bars, static_cast<double>(top))}});
    }
    page.services.audit(page.account.name, "breakdowns_viewed",
                        scope_detail(*scope, ex::Format::text));
    return page_with({{"report", true},
                      {"tables", tables},
                      {"summary", tr(page, msg::breakdowns_summary,
                                     {breakdown->participants, breakdown->visits,
                                      breakdown->visits_counted_by_consultations})},
                      {"col_value", tr(page, msg::col_value)},
                      {"col_participants", tr(page, msg::col_participants)},
                      {"col_share", tr(page, msg::col_share)},
                      {"total_row", tr(page, msg::total_row)},
                      {"query", "region=" + web::url_encode(page.form.get("region")) +
                                    "&from=" + web::url_encode(page.form.get("from")) +
                                    "&to=" + web::url_encode(page.form.get("to"))}},
                     200);
}

} // namespace

void add_report_routes(Routes& routes) {
    routes.get["/breakdowns"] = get_breakdowns;
    routes.get["/journals"] = get_journals;
    routes.get["/journals/download"] = get_journal_download;
    routes.get["/indicators"] = get_indicators;
    routes.post["/indicators"] = post_indicators;
}

} // namespace caravan::dashboard
