// Activity over time: consultations and participants per week, per region and per lawyer, and
// the villages visited per region, as tables and SVG charts drawn here. The numbers come from
// client/exports' compute_activity, over the same visits and by the same participant rule as
// the indicators (`caravan-server report indicators`), on a connection lent from the server's
// pool. Aggregates only: a viewer sees the page; a region-scoped account sees its regions only.

#include <algorithm>

#include "app.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/dashboard/messages.hpp"
#include "chart.hpp"
#include "report_scope.hpp"

namespace caravan::dashboard {
namespace {

namespace ex = client::exports;
using sync::server::Store;

// What a chart's bar shows of a row: the measure's value, and every number of the row in its
// data-* attributes (a test compares them with the report).
enum class Measure { consultations, participants };

std::int64_t value_of(const ex::ActivityRow& row, Measure measure) {
    return measure == Measure::consultations ? row.consultations : row.participants;
}

std::vector<Bar> bars_of(const std::vector<ex::ActivityRow>& rows, Measure measure,
                         const std::string& kind,
                         const std::function<std::string(const std::string&)>& label_of) {
    std::vector<Bar> bars;
    for (const auto& row : rows) {
        const std::int64_t v = value_of(row, measure);
        bars.push_back(Bar{label_of(row.key),
                           static_cast<double>(v),
                           std::to_string(v),
                           {{"kind", kind},
                            {"key", row.key},
                            {"visits", std::to_string(row.visits)},
                            {"consultations", std::to_string(row.consultations)},
                            {"participants", std::to_string(row.participants)}}});
    }
    return bars;
}

double top_of(const std::vector<ex::ActivityRow>& rows, Measure measure) {
    std::int64_t top = 1;
    for (const auto& row : rows) {
        top = std::max(top, value_of(row, measure));
    }
    return static_cast<double>(top);
}

mstch::array rows_of(const std::vector<ex::ActivityRow>& rows,
                     const std::function<std::string(const std::string&)>& label_of) {
    mstch::array out;
    for (const auto& row : rows) {
        out.push_back(mstch::map{{"label", label_of(row.key)},
                                 {"visits", std::to_string(row.visits)},
                                 {"consultations", std::to_string(row.consultations)},
                                 {"participants", std::to_string(row.participants)}});
    }
    return out;
}

web::Answer get_activity(const Page& page) {
    const auto page_with = [&](mstch::map extra, int status) {
        return scope_page(page, "activity", msg::activity_title, std::move(extra), status);
    };
    auto computed = compute_in_scope<ex::Activity>(page, "activity", ex::compute_activity);
    if (!computed) {
        return page_with({{"error", computed.error().text}}, computed.error().status);
    }
    const ex::Scope* scope = &computed->first;
    const ex::Activity* activity = &computed->second;
    const auto week_label = [&](const std::string& key) {
        return key.empty() ? tr(page, msg::date_not_recorded) : key;
    };
    const auto name_label = [&](const std::string& key) {
        return key.empty() ? tr(page, msg::not_recorded) : key;
    };
    const auto columns = [&](const std::string& id, const Message& title, Measure measure) {
        return svg_columns(id, tr(page, title),
                           bars_of(activity->weeks, measure, "week", week_label),
                           top_of(activity->weeks, measure));
    };
    const auto bars = [&](const std::string& id, const Message& title,
                          const std::vector<ex::ActivityRow>& rows, const std::string& kind,
                          Measure measure) {
        return svg_bars(id, tr(page, title), bars_of(rows, measure, kind, name_label),
                        top_of(rows, measure));
    };
    mstch::array regions;
    std::vector<Bar> village_bars;
    std::int64_t most_villages = 1;
    for (const auto& row : activity->regions) {
        std::int64_t villages = 0;
        for (const auto& v : activity->villages) {
            villages = v.region == row.key ? v.villages : villages;
        }
        regions.push_back(mstch::map{{"label", row.key},
                                     {"visits", std::to_string(row.visits)},
                                     {"consultations", std::to_string(row.consultations)},
                                     {"participants", std::to_string(row.participants)},
                                     {"villages", std::to_string(villages)}});
        village_bars.push_back(
            Bar{row.key,
                static_cast<double>(villages),
                std::to_string(villages),
                {{"kind", "villages"}, {"key", row.key}, {"villages", std::to_string(villages)}}});
        most_villages = std::max(most_villages, villages);
    }
    const ex::ActivityRow& total = activity->total;
    page.services.audit(page.account.name, "activity_viewed",
                        scope_detail(*scope, ex::Format::text));
    return page_with(
        {{"report", true},
         {"empty", total.visits == 0},
         {"none", tr(page, msg::activity_none)},
         {"summary",
          tr(page, msg::activity_summary, {total.visits, total.consultations, total.participants})},
         {"title_weeks_consultations", tr(page, msg::activity_weeks_consultations)},
         {"title_weeks_participants", tr(page, msg::activity_weeks_participants)},
         {"title_weeks_table", tr(page, msg::activity_weeks_table)},
         {"title_regions", tr(page, msg::activity_regions)},
         {"title_lawyers", tr(page, msg::activity_lawyers)},
         {"title_villages", tr(page, msg::activity_villages)},
         {"col_week", tr(page, msg::col_week)},
         {"col_region", tr(page, msg::field_region)},
         {"col_lawyer", tr(page, msg::col_lawyer)},
         {"col_visits", tr(page, msg::ind_visits)},
         {"col_consultations", tr(page, msg::ind_consultations)},
         {"col_participants", tr(page, msg::ind_participants)},
         {"col_villages", tr(page, msg::ind_villages)},
         {"total_row", tr(page, msg::total_row)},
         {"total_visits", std::to_string(total.visits)},
         {"total_consultations", std::to_string(total.consultations)},
         {"total_participants", std::to_string(total.participants)},
         {"weeks", rows_of(activity->weeks, week_label)},
         {"regions", regions},
         {"lawyers", rows_of(activity->lawyers, name_label)},
         {"chart_weeks_consultations",
          columns("chart-weeks-consultations", msg::activity_weeks_consultations,
                  Measure::consultations)},
         {"chart_weeks_participants",
          columns("chart-weeks-participants", msg::activity_weeks_participants,
                  Measure::participants)},
         {"chart_regions_consultations", bars("chart-regions-consultations", msg::ind_consultations,
                                              activity->regions, "region", Measure::consultations)},
         {"chart_regions_participants", bars("chart-regions-participants", msg::ind_participants,
                                             activity->regions, "region", Measure::participants)},
         {"chart_lawyers_consultations", bars("chart-lawyers-consultations", msg::ind_consultations,
                                              activity->lawyers, "lawyer", Measure::consultations)},
         {"chart_lawyers_participants", bars("chart-lawyers-participants", msg::ind_participants,
                                             activity->lawyers, "lawyer", Measure::participants)},
         {"chart_villages", svg_bars("chart-villages", tr(page, msg::activity_villages),
                                     village_bars, static_cast<double>(most_villages))}},
        200);
}

} // namespace

void add_activity_routes(Routes& routes) {
    routes.get["/activity"] = get_activity;
}

} // namespace caravan::dashboard
