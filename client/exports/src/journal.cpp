#include "caravan/client/export/journal.hpp"

#include <array>
#include <functional>

#include <nlohmann/json.hpp>

#include "caravan/client/export/atomic_file.hpp"
#include "caravan/client/export/csv.hpp"
#include "caravan/client/export/snapshot.hpp"
#include "caravan/client/export/xlsx.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/projection.hpp"
#include "texts.hpp"

namespace caravan::client::exports {

namespace {

using ordered_json = nlohmann::ordered_json;

// One journal row as read from the cursor. Enumerations hold codes.
struct Row {
    std::string id, date, region, village;
    std::optional<std::string> district;
    std::string lawyer, gender, age, category;
    std::optional<bool> vulnerable; // not recorded when absent
    std::vector<std::string> topics;
    std::string question, advice, outcome;
    bool follow_up = false;
    std::optional<std::string> lang;
};

enum class Column {
    no,
    id,
    date,
    region,
    village,
    district,
    lawyer,
    gender,
    age,
    category,
    vulnerable,
    topics,
    question,
    advice,
    outcome,
    follow_up,
    lang,
    unknown
};

constexpr std::pair<std::string_view, Column> k_codes[] = {
    {"no", Column::no},
    {"id", Column::id},
    {"date", Column::date},
    {"region", Column::region},
    {"village", Column::village},
    {"district", Column::district},
    {"lawyer", Column::lawyer},
    {"gender", Column::gender},
    {"age", Column::age},
    {"category", Column::category},
    {"vulnerable", Column::vulnerable},
    {"topics", Column::topics},
    {"question", Column::question},
    {"advice", Column::advice},
    {"outcome", Column::outcome},
    {"follow_up", Column::follow_up},
    {"lang", Column::lang},
};

// The journal.hpp column set, resolved once per export.
struct ColumnSet {
    std::vector<Column> kinds;
    std::vector<const JournalColumn*> defs;
    ColumnSet() {
        for (const JournalColumn& c : journal_columns()) {
            Column kind = Column::unknown;
            for (auto [code, k] : k_codes) {
                if (code == c.code) {
                    kind = k;
                }
            }
            kinds.push_back(kind);
            defs.push_back(&c);
        }
    }
};

std::string joined_labels(const std::vector<std::string>& codes, Lang lang) {
    std::string out;
    for (const std::string& code : codes) {
        if (!out.empty()) {
            out += k_topic_separator;
        }
        out += enums::topic.label(code, lang);
    }
    return out;
}

// A boolean cell: the catalog's yes or no (terms.inc).
std::string yes_no(bool value, Lang lang) {
    return std::string((value ? texts::term_yes : texts::term_no).text(message_lang(lang)));
}

// The cell text of a column for people (CSV, XLSX): labels in `lang`.
std::string cell_text(const Row& r, Column column, Lang lang) {
    switch (column) {
    case Column::id:
        return r.id;
    case Column::date:
        return r.date;
    case Column::region:
        return r.region;
    case Column::village:
        return r.village;
    case Column::district:
        return r.district.value_or("");
    case Column::lawyer:
        return r.lawyer;
    case Column::gender:
        return std::string(enums::gender.label(r.gender, lang));
    case Column::age:
        return std::string(enums::age.label(r.age, lang));
    case Column::category:
        return std::string(enums::category.label(r.category, lang));
    case Column::vulnerable:
        return r.vulnerable ? yes_no(*r.vulnerable, lang) : ""; // empty: not recorded
    case Column::topics:
        return joined_labels(r.topics, lang);
    case Column::question:
        return r.question;
    case Column::advice:
        return r.advice;
    case Column::outcome:
        return std::string(enums::outcome.label(r.outcome, lang));
    case Column::follow_up:
        return yes_no(r.follow_up, lang);
    case Column::lang:
        return r.lang ? std::string(enums::language.label(*r.lang, lang)) : "";
    case Column::no:
    case Column::unknown:
        return "";
    }
    return "";
}

ordered_json json_value(const Row& r, Column column, std::int64_t number) {
    auto opt = [](const std::optional<std::string>& v) {
        return v ? ordered_json(*v) : ordered_json(nullptr);
    };
    switch (column) {
    case Column::no:
        return number;
    case Column::id:
        return r.id;
    case Column::date:
        return r.date.empty() ? ordered_json(nullptr) : ordered_json(r.date);
    case Column::region:
        return r.region;
    case Column::village:
        return r.village;
    case Column::district:
        return opt(r.district);
    case Column::lawyer:
        return r.lawyer;
    case Column::gender:
        return r.gender;
    case Column::age:
        return r.age;
    case Column::category:
        return r.category;
    case Column::vulnerable:
        return r.vulnerable ? ordered_json(*r.vulnerable) : ordered_json(nullptr);
    case Column::topics:
        return r.topics;
    case Column::question:
        return r.question;
    case Column::advice:
        return r.advice;
    case Column::outcome:
        return r.outcome;
    case Column::follow_up:
        return r.follow_up;
    case Column::lang:
        return opt(r.lang);
    case Column::unknown:
        return nullptr;
    }
    return nullptr;
}

ordered_json json_labels(const Row& r, Lang lang) {
    ordered_json topics = ordered_json::array();
    for (const std::string& t : r.topics) {
        topics.push_back(enums::topic.label(t, lang));
    }
    return {{"gender", enums::gender.label(r.gender, lang)},
            {"age", enums::age.label(r.age, lang)},
            {"category", enums::category.label(r.category, lang)},
            {"topics", std::move(topics)},
            {"outcome", enums::outcome.label(r.outcome, lang)},
            {"lang",
             r.lang ? ordered_json(enums::language.label(*r.lang, lang)) : ordered_json(nullptr)}};
}

std::string dump(const ordered_json& j) {
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

constexpr std::string_view k_select =
    "SELECT c.id, coalesce(v.date, ''), coalesce(g.region, ''), coalesce(g.name, ''),"
    " g.district, coalesce(c.lawyer, ''), coalesce(c.gender, ''), coalesce(c.age, ''),"
    " coalesce(c.category, ''), c.vulnerable, coalesce(c.topics, '[]'),"
    " coalesce(c.question, ''), coalesce(c.advice, ''), coalesce(c.outcome, ''),"
    " coalesce(c.follow_up, 0), c.lang"
    " FROM consultations c LEFT JOIN visits v ON v.id = c.visit_id"
    " LEFT JOIN villages g ON g.id = v.village_id"
    " WHERE " CARAVAN_VISIBLE_SQL("c.")
    " AND (?1 IS NULL OR g.region IN (SELECT value FROM json_each(?1))) AND (?2 IS NULL OR v.date >= ?2)"
    " AND (?3 IS NULL OR v.date <= ?3)"
    " ORDER BY coalesce(g.region, ''), coalesce(v.date, ''), c.id";

void read_row(const storage::Statement& s, Row& r) {
    r.id = s.column_text(0);
    r.date = s.column_text(1);
    r.region = s.column_text(2);
    r.village = s.column_text(3);
    r.district = s.column_opt_text(4);
    r.lawyer = s.column_text(5);
    r.gender = s.column_text(6);
    r.age = s.column_text(7);
    r.category = s.column_text(8);
    r.vulnerable.reset();
    if (auto flag = s.column_opt_int(9)) {
        r.vulnerable = *flag != 0; // NULL: not recorded
    }
    decode_text_list(s.column_text(10), r.topics);
    r.question = s.column_text(11);
    r.advice = s.column_text(12);
    r.outcome = s.column_text(13);
    r.follow_up = s.column_int(14) != 0;
    r.lang = s.column_opt_text(15);
}

// Streams the rows of `scope` to `visit`, telling `progress` after each row; stops with the
// visitor's error.
Result<void> each_row(storage::Database& db, const Scope& scope, const RowProgress& progress,
                      const std::function<Result<void>(const Row&)>& visit) {
    auto stmt = db.prepare(k_select);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto regions = region_spellings(db, scope.region);
    if (!regions) {
        return tl::unexpected(regions.error());
    }
    stmt->bind(1, *regions).bind(2, scope.from).bind(3, scope.to);
    Row row;
    std::int64_t done = 0;
    return stmt->each([&](const storage::Statement& s) -> Result<void> {
        read_row(s, row);
        auto ok = visit(row);
        if (ok && progress) {
            progress(++done);
        }
        return ok;
    });
}

Result<void> stream_ok(const std::ostream& out) {
    if (!out) {
        return fail(ErrorCode::io, msg::output_write_failed_pipe);
    }
    return {};
}

Result<JournalSummary> write_csv(storage::Database& db, const JournalRequest& request,
                                 std::ostream& out, const RowProgress& progress) {
    ColumnSet columns;
    CsvWriter csv(out);
    csv.byte_order_mark();
    for (const JournalColumn* c : columns.defs) {
        csv.field(c->header(request.lang));
    }
    csv.end_row();
    JournalSummary summary;
    auto ok = each_row(db, request.scope, progress, [&](const Row& r) -> Result<void> {
        ++summary.rows;
        for (Column kind : columns.kinds) {
            if (kind == Column::no) {
                csv.field(summary.rows);
            } else {
                csv.field(cell_text(r, kind, request.lang));
            }
        }
        csv.end_row();
        return stream_ok(out);
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    out.flush();
    if (auto good = stream_ok(out); !good) {
        return tl::unexpected(good.error());
    }
    return summary;
}

Result<JournalSummary> write_json(storage::Database& db, const JournalRequest& request,
                                  std::ostream& out, const RowProgress& progress) {
    ColumnSet columns;
    auto opt = [](const std::optional<std::string>& v) {
        return v ? ordered_json(*v) : ordered_json(nullptr);
    };
    ordered_json headers = ordered_json::array();
    for (const JournalColumn* c : columns.defs) {
        headers.push_back({{"code", c->code}, {"header", c->header(request.lang)}});
    }
    out << "{\"format\":\"caravan-journal\",\"version\":1,\"lang\":\"" << to_string(request.lang)
        << "\",\"region\":" << dump(opt(request.scope.region))
        << ",\"from\":" << dump(opt(request.scope.from))
        << ",\"to\":" << dump(opt(request.scope.to)) << ",\n\"columns\":" << dump(headers)
        << ",\n\"rows\":[";
    JournalSummary summary;
    auto ok = each_row(db, request.scope, progress, [&](const Row& r) -> Result<void> {
        ++summary.rows;
        ordered_json row = ordered_json::object();
        for (size_t i = 0; i < columns.kinds.size(); ++i) {
            if (columns.kinds[i] != Column::unknown) {
                row[std::string(columns.defs[i]->code)] =
                    json_value(r, columns.kinds[i], summary.rows);
            }
        }
        row["labels"] = json_labels(r, request.lang);
        out << (summary.rows == 1 ? "\n" : ",\n") << dump(row);
        return stream_ok(out);
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    out << (summary.rows ? "\n" : "") << "],\n\"count\":" << summary.rows << "}\n";
    out.flush();
    if (auto good = stream_ok(out); !good) {
        return tl::unexpected(good.error());
    }
    return summary;
}

struct Width {
    Column column;
    double width;
    CellStyle style;
};

// Widths for paper as much as for the screen: the sheet prints one A4 landscape page wide, so
// the long texts wrap in moderately wide columns and the short ones stay narrow (a cell longer
// than its column wraps too; see XlsxWriter::text).
constexpr Width k_widths[] = {
    {Column::no, 5, CellStyle::integer},       {Column::id, 14, CellStyle::wrap},
    {Column::date, 11, CellStyle::date},       {Column::region, 14, CellStyle::text},
    {Column::village, 14, CellStyle::text},    {Column::district, 12, CellStyle::text},
    {Column::lawyer, 16, CellStyle::text},     {Column::gender, 9, CellStyle::text},
    {Column::age, 10, CellStyle::text},        {Column::category, 16, CellStyle::text},
    {Column::vulnerable, 10, CellStyle::text}, {Column::topics, 22, CellStyle::wrap},
    {Column::question, 30, CellStyle::wrap},   {Column::advice, 30, CellStyle::wrap},
    {Column::outcome, 16, CellStyle::text},    {Column::follow_up, 10, CellStyle::text},
    {Column::lang, 9, CellStyle::text},
};

std::string_view unknown_region_name(Lang lang) {
    return texts::term_region_unknown.text(message_lang(lang));
}

std::string_view journal_name(Lang lang) {
    return texts::term_journal.text(message_lang(lang));
}

Result<JournalSummary> write_xlsx(storage::Database& db, const JournalRequest& request,
                                  const std::filesystem::path& file, const RowProgress& progress) {
    ColumnSet set;
    XlsxOptions options;
    options.date_format = request.lang == Lang::en ? "yyyy-mm-dd" : "dd.mm.yyyy";
    auto book = XlsxWriter::create(file, options);
    if (!book) {
        return tl::unexpected(book.error());
    }
    std::vector<XlsxColumn> columns;
    for (size_t i = 0; i < set.kinds.size(); ++i) {
        XlsxColumn column{set.defs[i]->header(request.lang), 14, CellStyle::text};
        for (const Width& w : k_widths) {
            if (w.column == set.kinds[i]) {
                column.width = w.width;
                column.style = w.style;
            }
        }
        columns.push_back(column);
    }
    JournalSummary summary;
    std::optional<std::string> sheet_region;
    std::uint32_t row = 0;
    auto ok = each_row(db, request.scope, progress, [&](const Row& r) -> Result<void> {
        if (!sheet_region || *sheet_region != r.region) {
            sheet_region = r.region;
            row = 0;
            if (auto added = book->add_sheet(r.region, unknown_region_name(request.lang), columns);
                !added) {
                return added;
            }
        }
        ++row;
        ++summary.rows;
        for (size_t i = 0; i < set.kinds.size(); ++i) {
            auto col = static_cast<std::uint16_t>(i);
            Result<void> written;
            switch (set.kinds[i]) {
            case Column::no:
                written = book->number(row, col, row);
                break;
            case Column::date:
                written = book->date(row, col, r.date);
                break;
            default:
                written = book->text(row, col, cell_text(r, set.kinds[i], request.lang),
                                     columns[i].style == CellStyle::wrap ? CellStyle::wrap
                                                                         : CellStyle::text);
            }
            if (!written) {
                return written;
            }
        }
        return {};
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    if (!sheet_region) { // no rows: still a workbook with its header
        std::string name =
            request.scope.region ? *request.scope.region : std::string(journal_name(request.lang));
        if (auto added = book->add_sheet(name, journal_name(request.lang), columns); !added) {
            return tl::unexpected(added.error());
        }
    }
    summary.sheets = book->sheet_names();
    if (auto closed = book->close(); !closed) {
        return tl::unexpected(closed.error());
    }
    return summary;
}

Result<JournalRequest> prepare(storage::Database& db, const JournalRequest& request,
                               Format format) {
    if (format == Format::text) {
        return fail(ErrorCode::invalid_input, msg::format_journal);
    }
    auto scope = resolve_scope(db, request.scope);
    if (!scope) {
        return tl::unexpected(scope.error());
    }
    JournalRequest resolved = request;
    resolved.scope = *scope;
    return resolved;
}

} // namespace

Result<JournalSummary> write_journal(storage::Database& db, const JournalRequest& request,
                                     Format format, std::ostream& out, const RowProgress& progress) {
    auto snapshot = ReadSnapshot::begin(db);
    if (!snapshot) {
        return tl::unexpected(snapshot.error());
    }
    auto resolved = prepare(db, request, format);
    if (!resolved) {
        return tl::unexpected(resolved.error());
    }
    switch (format) {
    case Format::csv:
        return write_csv(db, *resolved, out, progress);
    case Format::json:
        return write_json(db, *resolved, out, progress);
    case Format::xlsx: {
        JournalSummary summary;
        auto ok = build_into_stream(
            [&](const std::filesystem::path& file) -> Result<void> {
                auto written = write_xlsx(db, *resolved, file, progress);
                if (!written) {
                    return tl::unexpected(written.error());
                }
                summary = *written;
                return {};
            },
            out);
        if (!ok) {
            return tl::unexpected(ok.error());
        }
        return summary;
    }
    case Format::text:
        break;
    }
    // i18n-exempt: a bug (a format added to the enumeration but not here)
    return fail(ErrorCode::internal, "journal: unhandled format");
}

Result<JournalSummary> export_journal(storage::Database& db, const JournalRequest& request,
                                      Format format, const std::filesystem::path& file,
                                      const RowProgress& progress) {
    auto snapshot = ReadSnapshot::begin(db);
    if (!snapshot) {
        return tl::unexpected(snapshot.error());
    }
    // Bad input is reported before any file is created.
    auto resolved = prepare(db, request, format);
    if (!resolved) {
        return tl::unexpected(resolved.error());
    }
    auto output = AtomicFile::create(file);
    if (!output) {
        return tl::unexpected(output.error());
    }
    Result<JournalSummary> summary;
    if (format == Format::xlsx) {
        summary = write_xlsx(db, *resolved, output->temp_path(), progress);
    } else {
        summary = format == Format::csv ? write_csv(db, *resolved, output->stream(), progress)
                                        : write_json(db, *resolved, output->stream(), progress);
    }
    if (!summary) {
        return summary; // the AtomicFile removes the temporary file
    }
    if (auto ok = output->commit(); !ok) {
        return tl::unexpected(ok.error());
    }
    return summary;
}

} // namespace caravan::client::exports
