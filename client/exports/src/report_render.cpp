// Indicators and breakdowns as text, CSV, JSON and XLSX, in Kazakh, Russian or English.

#include <charconv>
#include <cmath>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/client/export/atomic_file.hpp"
#include "caravan/client/export/csv.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/export/xlsx.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"
#include "texts.hpp"

namespace caravan::client::exports {

namespace {

using ordered_json = nlohmann::ordered_json;

// A term of the catalog (terms.inc) in `lang`.
std::string term(const Message& text, Lang lang) {
    return std::string(text.text(message_lang(lang)));
}

// The term a report names by `key` (an indicator code, "table:gender", "rec:photos"). A key no
// term has (a code from a newer program) is shown as it is, like an unknown enumeration code.
std::string term_for(std::string_view key, Lang lang) {
    const Message* text = texts::find_term(key);
    return text ? term(*text, lang) : std::string(key);
}

// A sentence of the catalog (sentences.inc) in `lang`, placeholders filled.
std::string sentence(const Message& text, Lang lang, const std::vector<MessageArg>& args) {
    const Language in = message_lang(lang);
    return render(text.text(in), args, in);
}

std::string fixed(double value, int decimals) {
    char buffer[64];
    auto r =
        std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, decimals);
    return std::string(buffer, r.ptr);
}

std::string number_text(double value, bool whole) {
    return whole ? std::to_string(static_cast<std::int64_t>(value)) : fixed(value, 1);
}

std::string period_text(const Scope& scope, Lang lang) {
    if (!scope.from && !scope.to) {
        return term(texts::term_all_dates, lang);
    }
    return scope.from.value_or("…") + " – " + scope.to.value_or("…");
}

std::string region_text(const Scope& scope, Lang lang) {
    return scope.region ? *scope.region : term(texts::term_all_regions, lang);
}

std::string value_label(const std::string& table, const std::string& code, Lang lang) {
    if (table == "vulnerable") {
        if (code == "yes") {
            return term(texts::term_yes, lang);
        }
        if (code == "no") {
            return term(texts::term_no, lang);
        }
        return std::string(enums::gender.label(k_unrecorded, lang));
    }
    const Enumeration* e = table == "gender"     ? &enums::gender
                           : table == "category" ? &enums::category
                                                 : &enums::age;
    return std::string(e->label(code, lang));
}

double share(std::int64_t part, std::int64_t total) {
    return total > 0 ? static_cast<double>(part) * 100.0 / static_cast<double>(total) : 0.0;
}

// Left-aligned text columns, right-aligned numeric ones, two spaces apart.
void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 const std::vector<bool>& numeric) {
    std::vector<std::size_t> widths(numeric.size(), 0);
    for (const auto& row : rows) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], utf8_length(row[i]));
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            std::size_t pad = widths[i] - utf8_length(row[i]);
            if (i > 0) {
                line += "  ";
            }
            if (numeric[i]) {
                line.append(pad, ' ');
                line += row[i];
            } else {
                line += row[i];
                if (i + 1 < row.size()) {
                    line.append(pad, ' ');
                }
            }
        }
        out << line << "\n";
    }
}

std::string field_name(const std::string& field, Lang lang) {
    const JournalColumn* column = find_journal_column(field);
    return column ? std::string(column->header(lang)) : field;
}

std::string dump(const ordered_json& j) {
    return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

Result<void> stream_ok(std::ostream& out) {
    out.flush();
    if (!out) {
        return fail(ErrorCode::io, msg::output_write_failed_pipe);
    }
    return {};
}

// ---- indicators --------------------------------------------------------------------------

std::string plan_cell(const Indicator& i) {
    return i.plan ? number_text(*i.plan, i.whole && std::floor(*i.plan) == *i.plan) : "—";
}

std::string fact_cell(const Indicator& i) {
    return i.fact ? number_text(*i.fact, i.whole) : "—";
}

std::string achieved_cell(const Indicator& i) {
    return i.achieved_percent ? fixed(*i.achieved_percent, 1) : "—";
}

std::string met_cell(const Indicator& i, Lang lang) {
    return i.met ? term(*i.met ? texts::term_yes : texts::term_no, lang) : "—";
}

void indicators_text(const IndicatorReport& r, Lang lang, std::ostream& out) {
    out << term(texts::term_indicators_title, lang) << "\n";
    if (!r.plan.name.empty()) {
        out << term(texts::term_plan_label, lang) << ": " << r.plan.name << "\n";
    }
    out << term(texts::term_period_label, lang) << ": " << period_text(r.scope, lang) << "; "
        << term(texts::term_region_label, lang) << ": " << region_text(r.scope, lang) << "\n";
    out << term(texts::term_rule, lang) << "\n\n";
    std::vector<std::vector<std::string>> rows = {
        {term(texts::term_indicator, lang), term(texts::term_plan, lang),
         term(texts::term_fact, lang), term(texts::term_achieved, lang),
         term(texts::term_met, lang)}};
    for (const Indicator& i : r.indicators) {
        rows.push_back({term_for(i.code, lang), plan_cell(i), fact_cell(i), achieved_cell(i),
                        met_cell(i, lang)});
    }
    print_table(out, rows, {false, true, true, true, false});
    out << "\n" << term(texts::term_warnings, lang) << ": " << r.warnings.size() << "\n";
    for (const Warning& w : r.warnings) {
        out << "- " << describe(w, lang) << "\n";
    }
}

void indicators_csv(const IndicatorReport& r, Lang lang, std::ostream& out) {
    CsvWriter csv(out);
    csv.byte_order_mark();
    for (const Message* text : {&texts::term_code, &texts::term_indicator, &texts::term_plan,
                                &texts::term_fact, &texts::term_achieved, &texts::term_met}) {
        csv.field(term(*text, lang));
    }
    csv.end_row();
    for (const Indicator& i : r.indicators) {
        csv.field(i.code);
        csv.field(term_for(i.code, lang));
        csv.field(i.plan ? (i.whole ? std::to_string(static_cast<std::int64_t>(*i.plan))
                                    : fixed(*i.plan, 1))
                         : "");
        csv.field(i.fact ? number_text(*i.fact, i.whole) : "");
        csv.field(i.achieved_percent ? fixed(*i.achieved_percent, 1) : "");
        csv.field(i.met ? term(*i.met ? texts::term_yes : texts::term_no, lang) : "");
        csv.end_row();
    }
}

ordered_json opt_number(const std::optional<double>& v, int decimals) {
    if (!v) {
        return nullptr;
    }
    double scale = decimals == 0 ? 1 : decimals == 1 ? 10 : 100;
    double rounded = std::round(*v * scale) / scale;
    if (decimals == 0) {
        return static_cast<std::int64_t>(rounded);
    }
    return rounded;
}

ordered_json scope_json(const Scope& s) {
    auto opt = [](const std::optional<std::string>& v) {
        return v ? ordered_json(*v) : ordered_json(nullptr);
    };
    return {{"region", opt(s.region)}, {"from", opt(s.from)}, {"to", opt(s.to)}};
}

void indicators_json(const IndicatorReport& r, Lang lang, std::ostream& out) {
    ordered_json doc = {
        {"format", "caravan-indicators"},
        {"version", 1},
        {"lang", to_string(lang)},
        {"plan", r.plan.name.empty() ? ordered_json(nullptr) : ordered_json(r.plan.name)},
        {"scope", scope_json(r.scope)},
        {"participant_rule", "attendance_first"}};
    ordered_json indicators = ordered_json::array();
    for (const Indicator& i : r.indicators) {
        bool whole_plan = i.whole && i.plan && std::floor(*i.plan) == *i.plan;
        ordered_json j = {{"code", i.code},
                          {"label", term_for(i.code, lang)},
                          {"plan", opt_number(i.plan, whole_plan ? 0 : 2)},
                          {"fact", opt_number(i.fact, i.whole ? 0 : 2)},
                          {"achieved_percent", opt_number(i.achieved_percent, 1)},
                          {"met", i.met ? ordered_json(*i.met) : ordered_json(nullptr)}};
        if (i.numerator) {
            bool satisfaction = i.code == "satisfaction_percent";
            j[satisfaction ? "satisfied" : "photos"] = *i.numerator;
            j[satisfaction ? "respondents" : "visits"] = *i.denominator;
        }
        indicators.push_back(std::move(j));
    }
    doc["indicators"] = std::move(indicators);
    ordered_json warnings = ordered_json::array();
    for (const Warning& w : r.warnings) {
        ordered_json j = {{"code", to_string(w.kind)}};
        if (!w.visit_id.empty()) {
            j["visit_id"] = w.visit_id;
            j["date"] = w.date;
            j["village"] = w.village;
            j["region"] = w.region;
            j["lawyer"] = w.lawyer;
        }
        if (!w.field.empty()) {
            j[w.kind == WarningKind::unknown_visit || w.kind == WarningKind::unknown_village
                  ? "records"
                  : "field"] = w.field;
        }
        j["count"] = w.count;
        if (w.kind == WarningKind::consultations_exceed_attendance ||
            w.kind == WarningKind::photos_below_plan) {
            j["expected"] = w.expected;
        }
        j["message"] = describe(w, lang);
        warnings.push_back(std::move(j));
    }
    doc["warnings"] = std::move(warnings);
    out << dump(doc) << "\n";
}

Result<void> about_sheet(XlsxWriter& book, Lang lang, std::string_view plan, const Scope& scope,
                         std::int64_t participants) {
    std::string item = term(texts::term_item, lang), value = term(texts::term_value, lang);
    XlsxColumn columns[] = {{item, 28, CellStyle::bold}, {value, 70, CellStyle::wrap}};
    std::string plan_label = term(texts::term_plan_label, lang),
                period_label = term(texts::term_period_label, lang),
                region_label = term(texts::term_region_label, lang),
                total_label = term(texts::term_participants_total, lang);
    if (auto ok = book.add_sheet(term(texts::term_sheet_about, lang), "about", columns); !ok) {
        return ok;
    }
    std::uint32_t row = 0;
    auto line = [&](const std::string& key, const std::string& value) -> Result<void> {
        ++row;
        if (auto ok = book.text(row, 0, key, CellStyle::bold); !ok) {
            return ok;
        }
        return book.text(row, 1, value, CellStyle::wrap);
    };
    auto number_line = [&](const std::string& key, std::int64_t value) -> Result<void> {
        ++row;
        if (auto ok = book.text(row, 0, key, CellStyle::bold); !ok) {
            return ok;
        }
        return book.number(row, 1, static_cast<double>(value), CellStyle::integer);
    };
    for (auto ok :
         {plan.empty() ? Result<void>() : line(plan_label, std::string(plan)),
          line(period_label, period_text(scope, lang)),
          line(region_label, region_text(scope, lang)), number_line(total_label, participants),
          line("", term(texts::term_rule, lang))}) {
        if (!ok) {
            return ok;
        }
    }
    return {};
}

Result<void> indicators_xlsx(const IndicatorReport& r, Lang lang,
                             const std::filesystem::path& file) {
    auto book = XlsxWriter::create(file, {lang == Lang::en ? "yyyy-mm-dd" : "dd.mm.yyyy"});
    if (!book) {
        return tl::unexpected(book.error());
    }
    std::string h[] = {term(texts::term_code, lang),     term(texts::term_indicator, lang),
                       term(texts::term_plan, lang),     term(texts::term_fact, lang),
                       term(texts::term_achieved, lang), term(texts::term_met, lang)};
    XlsxColumn columns[] = {{h[0], 22, CellStyle::text},    {h[1], 40, CellStyle::text},
                            {h[2], 10, CellStyle::decimal}, {h[3], 10, CellStyle::decimal},
                            {h[4], 14, CellStyle::decimal}, {h[5], 12, CellStyle::text}};
    if (auto ok = book->add_sheet(term(texts::term_sheet_indicators, lang), "indicators", columns);
        !ok) {
        return ok;
    }
    std::uint32_t row = 0;
    for (const Indicator& i : r.indicators) {
        ++row;
        CellStyle style = i.whole ? CellStyle::integer : CellStyle::decimal;
        for (auto ok :
             {book->text(row, 0, i.code), book->text(row, 1, term_for(i.code, lang)),
              i.plan ? book->number(row, 2, *i.plan,
                                    i.whole && std::floor(*i.plan) == *i.plan ? CellStyle::integer
                                                                              : CellStyle::decimal)
                     : Result<void>(),
              i.fact ? book->number(row, 3, *i.fact, style) : Result<void>(),
              i.achieved_percent ? book->number(row, 4, *i.achieved_percent, CellStyle::decimal)
                                 : Result<void>(),
              i.met ? book->text(row, 5, term(*i.met ? texts::term_yes : texts::term_no, lang))
                    : Result<void>()}) {
            if (!ok) {
                return ok;
            }
        }
    }
    std::string wh[] = {term(texts::term_code, lang),    term(texts::term_date, lang),
                        term(texts::term_village, lang), term(texts::term_region, lang),
                        term(texts::term_lawyer, lang),  term(texts::term_visit, lang),
                        term(texts::term_message, lang)};
    XlsxColumn warning_columns[] = {{wh[0], 30, CellStyle::text}, {wh[1], 12, CellStyle::date},
                                    {wh[2], 18, CellStyle::text}, {wh[3], 16, CellStyle::text},
                                    {wh[4], 20, CellStyle::text}, {wh[5], 38, CellStyle::text},
                                    {wh[6], 80, CellStyle::wrap}};
    if (auto ok =
            book->add_sheet(term(texts::term_sheet_warnings, lang), "warnings", warning_columns);
        !ok) {
        return ok;
    }
    row = 0;
    for (const Warning& w : r.warnings) {
        ++row;
        for (auto ok : {book->text(row, 0, to_string(w.kind)), book->date(row, 1, w.date),
                        book->text(row, 2, w.village), book->text(row, 3, w.region),
                        book->text(row, 4, w.lawyer), book->text(row, 5, w.visit_id),
                        book->text(row, 6, describe(w, lang), CellStyle::wrap)}) {
            if (!ok) {
                return ok;
            }
        }
    }
    if (auto ok = about_sheet(*book, lang, r.plan.name, r.scope, r.indicators[2].fact.value_or(0));
        !ok) {
        return ok;
    }
    return book->close();
}

// ---- breakdown ---------------------------------------------------------------------------

void breakdown_text(const Breakdown& b, Lang lang, std::ostream& out) {
    out << term(texts::term_breakdown_title, lang) << "\n";
    out << term(texts::term_period_label, lang) << ": " << period_text(b.scope, lang) << "; "
        << term(texts::term_region_label, lang) << ": " << region_text(b.scope, lang) << "\n";
    out << term(texts::term_rule, lang) << "\n";
    out << term(texts::term_participants_total, lang) << ": " << b.participants << "\n";
    for (const BreakdownTable& t : b.tables) {
        out << "\n" << term_for("table:" + t.code, lang) << "\n";
        std::vector<std::vector<std::string>> rows = {{term(texts::term_value, lang),
                                                       term(texts::term_participants, lang),
                                                       term(texts::term_share, lang)}};
        for (const BreakdownRow& r : t.rows) {
            rows.push_back({value_label(t.code, r.code, lang), std::to_string(r.participants),
                            fixed(share(r.participants, t.total), 1)});
        }
        rows.push_back({term(texts::term_total, lang), std::to_string(t.total),
                        fixed(t.total > 0 ? 100.0 : 0.0, 1)});
        print_table(out, rows, {false, true, true});
    }
}

void breakdown_csv(const Breakdown& b, Lang lang, std::ostream& out) {
    CsvWriter csv(out);
    csv.byte_order_mark();
    for (const Message* text : {&texts::term_table, &texts::term_code, &texts::term_value,
                                &texts::term_participants, &texts::term_share}) {
        csv.field(term(*text, lang));
    }
    csv.end_row();
    for (const BreakdownTable& t : b.tables) {
        for (const BreakdownRow& r : t.rows) {
            csv.field(t.code);
            csv.field(r.code);
            csv.field(value_label(t.code, r.code, lang));
            csv.field(r.participants);
            csv.field(share(r.participants, t.total), 1);
            csv.end_row();
        }
        csv.field(t.code);
        csv.field(std::string_view("total"));
        csv.field(term(texts::term_total, lang));
        csv.field(t.total);
        csv.field(t.total > 0 ? 100.0 : 0.0, 1);
        csv.end_row();
    }
}

void breakdown_json(const Breakdown& b, Lang lang, std::ostream& out) {
    ordered_json doc = {{"format", "caravan-breakdown"},
                        {"version", 1},
                        {"lang", to_string(lang)},
                        {"scope", scope_json(b.scope)},
                        {"participant_rule", "attendance_first"},
                        {"participants", b.participants},
                        {"visits", b.visits},
                        {"visits_counted_by_consultations", b.visits_counted_by_consultations}};
    ordered_json tables = ordered_json::array();
    for (const BreakdownTable& t : b.tables) {
        ordered_json rows = ordered_json::array();
        for (const BreakdownRow& r : t.rows) {
            rows.push_back({{"code", r.code},
                            {"label", value_label(t.code, r.code, lang)},
                            {"participants", r.participants},
                            {"share_percent", opt_number(share(r.participants, t.total), 1)}});
        }
        tables.push_back({{"code", t.code},
                          {"label", term_for("table:" + t.code, lang)},
                          {"rows", std::move(rows)},
                          {"total", t.total}});
    }
    doc["tables"] = std::move(tables);
    out << dump(doc) << "\n";
}

Result<void> breakdown_xlsx(const Breakdown& b, Lang lang, const std::filesystem::path& file) {
    auto book = XlsxWriter::create(file, {lang == Lang::en ? "yyyy-mm-dd" : "dd.mm.yyyy"});
    if (!book) {
        return tl::unexpected(book.error());
    }
    for (const BreakdownTable& t : b.tables) {
        std::string h[] = {term(texts::term_code, lang), term(texts::term_value, lang),
                           term(texts::term_participants, lang), term(texts::term_share, lang)};
        XlsxColumn columns[] = {{h[0], 16, CellStyle::text},
                                {h[1], 36, CellStyle::text},
                                {h[2], 14, CellStyle::integer},
                                {h[3], 10, CellStyle::decimal}};
        if (auto ok = book->add_sheet(term_for("table:" + t.code, lang), t.code, columns); !ok) {
            return ok;
        }
        std::uint32_t row = 0;
        for (const BreakdownRow& r : t.rows) {
            ++row;
            for (auto ok :
                 {book->text(row, 0, r.code), book->text(row, 1, value_label(t.code, r.code, lang)),
                  book->number(row, 2, static_cast<double>(r.participants)),
                  book->number(row, 3, share(r.participants, t.total), CellStyle::decimal)}) {
                if (!ok) {
                    return ok;
                }
            }
        }
        ++row;
        for (auto ok : {book->text(row, 0, "total", CellStyle::bold),
                        book->text(row, 1, term(texts::term_total, lang), CellStyle::bold),
                        book->number(row, 2, static_cast<double>(t.total), CellStyle::bold),
                        book->number(row, 3, t.total > 0 ? 100.0 : 0.0, CellStyle::decimal)}) {
            if (!ok) {
                return ok;
            }
        }
    }
    if (auto ok = about_sheet(*book, lang, "", b.scope, b.participants); !ok) {
        return ok;
    }
    return book->close();
}

template <class Report, class Text, class Csv, class Json, class Xlsx>
Result<void> render(const Report& report, Format format, Lang lang, std::ostream& out, Text text,
                    Csv csv, Json json, Xlsx xlsx) {
    switch (format) {
    case Format::text:
        text(report, lang, out);
        break;
    case Format::csv:
        csv(report, lang, out);
        break;
    case Format::json:
        json(report, lang, out);
        break;
    case Format::xlsx:
        return build_into_stream(
            [&](const std::filesystem::path& file) { return xlsx(report, lang, file); }, out);
    }
    return stream_ok(out);
}

template <class Report, class Text, class Csv, class Json, class Xlsx>
Result<void> render_file(const Report& report, Format format, Lang lang,
                         const std::filesystem::path& file, Text text, Csv csv, Json json,
                         Xlsx xlsx) {
    auto output = AtomicFile::create(file);
    if (!output) {
        return tl::unexpected(output.error());
    }
    Result<void> ok = format == Format::xlsx
                          ? xlsx(report, lang, output->temp_path())
                          : render(report, format, lang, output->stream(), text, csv, json, xlsx);
    if (!ok) {
        return ok;
    }
    return output->commit();
}

} // namespace

std::string describe(const Warning& w, Lang lang) {
    std::string at;
    if (!w.visit_id.empty()) {
        at = w.date + " " + w.village + " (" + w.region + "), " + term(texts::term_visit, lang) +
             " " + short_id(w.visit_id) + ": ";
    }
    const std::int64_t n = w.count, m = w.expected;
    std::string field = field_name(w.field, lang);
    switch (w.kind) {
    case WarningKind::visit_without_attendance:
        if (w.count == 0) {
            return at + sentence(texts::warning_visit_empty, lang, {});
        }
        return at + sentence(texts::warning_visit_without_attendance, lang, {n});
    case WarningKind::consultations_exceed_attendance:
        return at + sentence(texts::warning_consultations_exceed_attendance, lang, {n, m});
    case WarningKind::consultation_unrecorded:
        return at + sentence(texts::warning_consultation_unrecorded, lang, {n, field});
    case WarningKind::attendance_unrecorded:
        return at + sentence(texts::warning_attendance_unrecorded, lang, {n, field});
    case WarningKind::photos_below_plan:
        return at + sentence(texts::warning_photos_below_plan, lang, {n, m});
    case WarningKind::open_visit:
        return at + sentence(texts::warning_open_visit, lang, {});
    case WarningKind::unknown_visit:
        return sentence(texts::warning_unknown_visit, lang, {n, term_for("rec:" + w.field, lang)});
    case WarningKind::unknown_village:
        return sentence(texts::warning_unknown_village, lang, {n});
    }
    return at;
}

Result<void> write_indicators(const IndicatorReport& report, Format format, Lang lang,
                              std::ostream& out) {
    return render(report, format, lang, out, indicators_text, indicators_csv, indicators_json,
                  indicators_xlsx);
}

Result<void> export_indicators(const IndicatorReport& report, Format format, Lang lang,
                               const std::filesystem::path& file) {
    return render_file(report, format, lang, file, indicators_text, indicators_csv, indicators_json,
                       indicators_xlsx);
}

Result<void> write_breakdown(const Breakdown& breakdown, Format format, Lang lang,
                             std::ostream& out) {
    return render(breakdown, format, lang, out, breakdown_text, breakdown_csv, breakdown_json,
                  breakdown_xlsx);
}

Result<void> export_breakdown(const Breakdown& breakdown, Format format, Lang lang,
                              const std::filesystem::path& file) {
    return render_file(breakdown, format, lang, file, breakdown_text, breakdown_csv, breakdown_json,
                       breakdown_xlsx);
}

} // namespace caravan::client::exports
