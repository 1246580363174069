#include "caravan/client/import.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/journal.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"
#include "caravan/client/xlsx_reader.hpp"

namespace caravan::client {

using nlohmann::json;

namespace {

// ---- columns ------------------------------------------------------------------------------

constexpr std::size_t k_max_columns = 32;
constexpr std::uint8_t k_none = 0xff;

std::size_t column_count() {
    return journal_columns().size();
}

std::size_t column_index(const JournalColumn* c) {
    return static_cast<std::size_t>(c - journal_columns().data());
}

// Index of the column with this code (the codes are fixed by journal.hpp).
std::size_t col(std::string_view code) {
    for (std::size_t i = 0; i < column_count(); ++i) {
        if (journal_columns()[i].code == code) {
            return i;
        }
    }
    return k_max_columns; // not reached for the codes used below
}

constexpr std::string_view k_required[] = {"date", "region",   "village", "gender",
                                           "age",  "category", "topics",  "outcome"};

std::string header_names(const JournalColumn& c) {
    std::string out(c.kk);
    for (std::string_view name : {c.ru, c.en}) {
        if (out.find(name) == std::string::npos) {
            out += " / " + std::string(name);
        }
    }
    return out;
}

// A header or JSON key is a column name, not personal data, but keep what is echoed short and
// printable.
MessageArg quoted_name(std::string_view name) {
    std::string n = normalize_space(name);
    if (!is_valid_utf8(n)) {
        return msg::import_name_not_utf8;
    }
    if (utf8_length(n) > 40) {
        n = n.substr(0, 40);
        while (!n.empty() && !is_valid_utf8(n)) {
            n.pop_back();
        }
        n += "...";
    }
    return "'" + n + "'";
}

// A problem to report, in English and with its catalog message for other languages.
template <class... Args>
ImportIssue issue(std::int64_t line, std::string_view column, const Message& what, Args&&... args) {
    // i18n-forwards: `what` is one of msg::import_*
    Error e = make_error(ErrorCode::invalid_input, what, std::forward<Args>(args)...);
    std::string message = e.message;
    return ImportIssue{line, std::string(column), std::move(message), std::move(e), {}};
}

ImportIssue issue(std::int64_t line, std::string_view column, const Error& e) {
    return ImportIssue{line, std::string(column), e.message, e, {}};
}

// ---- enumerations --------------------------------------------------------------------------

// An enumeration's values by index (a row keeps one byte per breakdown); spellings are read by
// Enumeration::index_of, exactly as on the command line.
class EnumIndex {
  public:
    explicit EnumIndex(const Enumeration& e) : m_enum(&e) {}
    // Index of the value spelled `text`, k_none when unknown.
    [[nodiscard]] std::uint8_t find(std::string_view text) const {
        auto index = m_enum->index_of(text);
        return index ? static_cast<std::uint8_t>(*index) : k_none;
    }
    [[nodiscard]] std::string_view code(std::uint8_t index) const {
        return m_enum->values[index].code;
    }
    [[nodiscard]] std::uint8_t index_of(std::string_view code) const {
        const EnumValue* value = m_enum->find(code);
        return value ? static_cast<std::uint8_t>(value - m_enum->values.data()) : k_none;
    }
    [[nodiscard]] std::string allowed() const { return m_enum->allowed(); }

  private:
    const Enumeration* m_enum;
};

// ---- the rows kept between validation and writing ------------------------------------------

constexpr std::size_t k_max_topics = 32;

struct PendingRow {
    std::int64_t line = 0;
    std::uint32_t visit = 0; // index into Plan::visits
    std::array<char, 36> id{};
    std::uint8_t gender = 0, age = 0, category = 0, outcome = 0, lang = k_none;
    std::optional<bool> vulnerable; // an empty cell: not recorded
    bool follow_up = false;
    std::uint8_t topic_count = 0;
    std::array<std::uint8_t, k_max_topics> topics{};
    std::string lawyer_override; // empty: the visit's lawyer spelling
    std::string question, advice;
};

struct VillageKey {
    std::string name, region;
    std::optional<std::string> district;
    std::string folded; // fold(region) \n fold(name)
};

struct VisitKey {
    std::uint32_t village = 0;
    std::string date;
    std::string lawyer;
    std::string folded_lawyer;
};

// Everything validation learns: the rows, and the villages and visits they need.
struct Plan {
    std::vector<PendingRow> rows;
    std::vector<VillageKey> villages;
    std::vector<VisitKey> visits;
    std::unordered_map<std::string, std::uint32_t> village_index;
    std::unordered_map<std::string, std::uint32_t> visit_index;
};

// ---- validation of one row -----------------------------------------------------------------

// The cells of one row, indexed like journal_columns(); `present` says which columns the file
// has (a CSV header names them once; a JSON line names its own).
struct RawRow {
    std::int64_t line = 0;
    std::array<std::string, k_max_columns> cells;
    std::array<bool, k_max_columns> present{};
};

class RowValidator {
  public:
    RowValidator(std::string device_lawyer, Plan& plan, std::vector<ImportIssue>& errors)
        : m_device_lawyer(std::move(device_lawyer)), m_plan(plan), m_errors(errors),
          m_gender(enums::gender), m_age(enums::age), m_category(enums::category),
          m_topic(enums::topic), m_outcome(enums::outcome), m_lang(enums::language) {}

    void validate(const RawRow& raw);
    // Told the number of rows checked after each row.
    void on_progress(const ImportOptions& options) { m_options = &options; }

  private:
    template <class... Args>
    bool error(std::int64_t line, std::string_view column, const Message& what, Args&&... args) {
        m_errors.push_back(issue(line, column, what, std::forward<Args>(args)...));
        return false;
    }
    const std::string& cell(const RawRow& raw, std::string_view code) const {
        static const std::string empty;
        std::size_t i = col(code);
        return raw.present[i] ? raw.cells[i] : empty;
    }
    std::optional<std::string> text(const RawRow& raw, std::string_view code, bool required);
    std::optional<std::string> note(const RawRow& raw, std::string_view code);
    std::optional<std::uint8_t> breakdown(const RawRow& raw, std::string_view code,
                                          const EnumIndex& index);
    // A yes/no cell: std::nullopt after an error; holding std::nullopt when the cell is empty.
    std::optional<std::optional<bool>> answer(const RawRow& raw, std::string_view code);
    // A yes/no cell where empty means no.
    std::optional<bool> boolean(const RawRow& raw, std::string_view code);
    std::optional<std::string> date(const RawRow& raw);

    std::string m_device_lawyer;
    Plan& m_plan;
    std::vector<ImportIssue>& m_errors;
    EnumIndex m_gender, m_age, m_category, m_topic, m_outcome, m_lang;
    std::unordered_map<std::string, std::int64_t> m_explicit_ids;  // id -> line
    std::unordered_map<std::string, std::uint32_t> m_content_keys; // derived id -> occurrences
    const ImportOptions* m_options = nullptr;
    std::int64_t m_checked = 0;
};

std::optional<std::string> RowValidator::text(const RawRow& raw, std::string_view code,
                                              bool required) {
    const std::string& value = cell(raw, code);
    if (!is_valid_utf8(value)) {
        error(raw.line, code, msg::import_not_utf8);
        return std::nullopt;
    }
    std::string normalized = normalize_space(value);
    if (!is_safe_text(normalized)) {
        error(raw.line, code, msg::import_control_character);
        return std::nullopt;
    }
    if (required && normalized.empty()) {
        error(raw.line, code, msg::import_required);
        return std::nullopt;
    }
    if (utf8_length(normalized) > k_max_name_chars) {
        error(raw.line, code, msg::import_too_long, k_max_name_chars);
        return std::nullopt;
    }
    return normalized;
}

std::optional<std::string> RowValidator::note(const RawRow& raw, std::string_view code) {
    const std::string& value = cell(raw, code);
    if (!is_valid_utf8(value)) {
        error(raw.line, code, msg::import_not_utf8);
        return std::nullopt;
    }
    // Line breaks are kept, as the engine keeps them, but CRLF from spreadsheets becomes LF so
    // that the same text gives the same derived id whichever program saved the file.
    std::string out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) {
        if (value[i] == '\r') {
            out.push_back('\n');
            if (i + 1 < value.size() && value[i + 1] == '\n') {
                ++i;
            }
        } else {
            out.push_back(value[i]);
        }
    }
    std::size_t begin = out.find_first_not_of(" \t\r\n");
    std::size_t end = out.find_last_not_of(" \t\r\n");
    out = begin == std::string::npos ? std::string() : out.substr(begin, end - begin + 1);
    if (!is_safe_text(out)) {
        error(raw.line, code, msg::import_control_character);
        return std::nullopt;
    }
    if (utf8_length(out) > k_max_note_chars) {
        error(raw.line, code, msg::import_too_long, k_max_note_chars);
        return std::nullopt;
    }
    return out;
}

std::optional<std::uint8_t> RowValidator::breakdown(const RawRow& raw, std::string_view code,
                                                    const EnumIndex& index) {
    const std::string& value = cell(raw, code);
    if (!is_valid_utf8(value)) {
        error(raw.line, code, msg::import_not_utf8);
        return std::nullopt;
    }
    if (normalize_space(value).empty()) {
        return index.index_of(k_unrecorded);
    }
    std::uint8_t found = index.find(value);
    if (found == k_none) {
        error(raw.line, code, msg::import_unknown_value, index.allowed());
        return std::nullopt;
    }
    return found;
}

std::optional<std::optional<bool>> RowValidator::answer(const RawRow& raw,
                                                        std::string_view code) {
    const std::string& value = cell(raw, code);
    if (normalize_space(value).empty()) {
        return std::optional<bool>();
    }
    auto parsed = parse_yes_no(value);
    if (!parsed) {
        error(raw.line, code, msg::import_not_yes_no);
        return std::nullopt;
    }
    return std::optional<bool>(*parsed);
}

std::optional<bool> RowValidator::boolean(const RawRow& raw, std::string_view code) {
    auto parsed = answer(raw, code);
    if (!parsed) {
        return std::nullopt;
    }
    return parsed->value_or(false);
}

// YYYY-MM-DD, or DD.MM.YYYY as paper journals and spreadsheets in kk/ru locales write dates.
std::optional<std::string> RowValidator::date(const RawRow& raw) {
    std::string value = normalize_space(cell(raw, "date"));
    if (value.empty()) {
        error(raw.line, "date", msg::import_required);
        return std::nullopt;
    }
    if (value.size() == 10 && value[2] == '.' && value[5] == '.') {
        value = value.substr(6, 4) + "-" + value.substr(3, 2) + "-" + value.substr(0, 2);
    }
    auto checked = validate_event_date("date", value);
    if (!checked) {
        // The reason (form, year, calendar, future), never the cell's content.
        const Message* why = checked.error().text;
        error(raw.line, "date",
              why == &msg::date_year_range        ? msg::import_date_year_range
              : why == &msg::date_not_in_calendar ? msg::import_date_not_in_calendar
              : why == &msg::date_in_future       ? msg::import_date_in_future
                                                  : msg::import_bad_date);
        return std::nullopt;
    }
    return *checked;
}

void append_key_part(std::string& key, std::string_view part) {
    key += std::to_string(part.size());
    key.push_back(':');
    key.append(part);
}

void RowValidator::validate(const RawRow& raw) {
    ++m_checked;
    if (m_options && m_options->progress) {
        m_options->progress(ImportStage::checking, m_checked, 0);
    }
    const std::size_t errors_before = m_errors.size();
    PendingRow row;
    row.line = raw.line;

    std::optional<std::string> id;
    if (std::string value = normalize_space(cell(raw, "id")); !value.empty()) {
        std::transform(value.begin(), value.end(), value.begin(), [](char c) {
            return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        });
        if (!is_uuid(value)) {
            error(raw.line, "id", msg::import_bad_id);
        } else if (auto [it, fresh] = m_explicit_ids.emplace(value, raw.line); !fresh) {
            error(raw.line, "id", msg::import_duplicate_id, it->second);
        } else {
            id = value;
        }
    }
    auto date_value = date(raw);
    auto region = text(raw, "region", true);
    auto village = text(raw, "village", true);
    auto district = text(raw, "district", false);
    auto lawyer = text(raw, "lawyer", false);
    auto gender = breakdown(raw, "gender", m_gender);
    auto age = breakdown(raw, "age", m_age);
    auto category = breakdown(raw, "category", m_category);
    auto vulnerable = answer(raw, "vulnerable");
    auto follow_up = boolean(raw, "follow_up");
    auto question = note(raw, "question");
    auto advice = note(raw, "advice");

    // topics: "; "-separated codes or labels, at least one.
    const std::string& topics_cell = cell(raw, "topics");
    if (!is_valid_utf8(topics_cell)) {
        error(raw.line, "topics", msg::import_not_utf8);
    } else {
        std::size_t item = 0;
        bool bad = false;
        for (std::size_t start = 0; start <= topics_cell.size();) {
            std::size_t end = topics_cell.find(';', start);
            if (end == std::string::npos) {
                end = topics_cell.size();
            }
            std::string_view part(topics_cell.data() + start, end - start);
            start = end + 1;
            if (normalize_space(part).empty()) {
                continue;
            }
            ++item;
            std::uint8_t t = m_topic.find(part);
            if (t == k_none) {
                error(raw.line, "topics", msg::import_topic_unknown, item, m_topic.allowed());
                bad = true;
                continue;
            }
            auto end_topics = row.topics.begin() + row.topic_count;
            if (std::find(row.topics.begin(), end_topics, t) == end_topics &&
                row.topic_count < k_max_topics) {
                row.topics[row.topic_count++] = t;
            }
        }
        if (!bad && row.topic_count == 0) {
            error(raw.line, "topics", msg::import_topic_required);
        }
    }

    const std::string& outcome_cell = cell(raw, "outcome");
    if (!is_valid_utf8(outcome_cell)) {
        error(raw.line, "outcome", msg::import_not_utf8);
    } else if (normalize_space(outcome_cell).empty()) {
        error(raw.line, "outcome", msg::import_required_allowed, m_outcome.allowed());
    } else if (row.outcome = m_outcome.find(outcome_cell); row.outcome == k_none) {
        error(raw.line, "outcome", msg::import_unknown_value, m_outcome.allowed());
    }

    const std::string& lang_cell = cell(raw, "lang");
    if (!is_valid_utf8(lang_cell)) {
        error(raw.line, "lang", msg::import_not_utf8);
    } else if (!normalize_space(lang_cell).empty()) {
        row.lang = m_lang.find(lang_cell);
        if (row.lang == k_none) {
            error(raw.line, "lang", msg::import_unknown_language, m_lang.allowed());
        }
    }

    if (m_errors.size() != errors_before) {
        return;
    }

    // The row is valid: intern its village and visit, and settle its id.
    row.gender = *gender;
    row.age = *age;
    row.category = *category;
    row.vulnerable = *vulnerable;
    row.follow_up = *follow_up;
    row.question = std::move(*question);
    row.advice = std::move(*advice);
    std::string effective_lawyer = lawyer->empty() ? m_device_lawyer : *lawyer;
    std::string folded_region = fold_case(*region);
    std::string folded_village = fold_case(*village);
    std::string folded_lawyer = fold_case(effective_lawyer);

    std::string village_key = folded_region + "\n" + folded_village;
    auto [village_it, new_village] = m_plan.village_index.emplace(
        village_key, static_cast<std::uint32_t>(m_plan.villages.size()));
    if (new_village) {
        m_plan.villages.push_back(
            {*village, *region,
             district->empty() ? std::nullopt : std::optional<std::string>(*district),
             village_key});
    }
    std::string visit_key =
        std::to_string(village_it->second) + "\n" + *date_value + "\n" + folded_lawyer;
    auto [visit_it, new_visit] =
        m_plan.visit_index.emplace(visit_key, static_cast<std::uint32_t>(m_plan.visits.size()));
    if (new_visit) {
        m_plan.visits.push_back({village_it->second, *date_value, effective_lawyer, folded_lawyer});
    }
    row.visit = visit_it->second;
    if (effective_lawyer != m_plan.visits[row.visit].lawyer) {
        row.lawyer_override = effective_lawyer;
    }

    if (!id) {
        // The row's content, normalised: the same row in any spelling (labels or codes, any
        // case, CSV or JSON Lines) gives the same key.
        std::string key;
        for (std::string_view part :
             {std::string_view(*date_value), std::string_view(folded_region),
              std::string_view(folded_village), std::string_view(folded_lawyer),
              m_gender.code(row.gender), m_age.code(row.age), m_category.code(row.category),
              // Not recorded keys as "0", as it did when an empty cell meant no: a journal
              // imported before keeps its derived ids.
              std::string_view(row.vulnerable.value_or(false) ? "1" : "0")}) {
            append_key_part(key, part);
        }
        std::string topics;
        for (std::uint8_t k = 0; k < row.topic_count; ++k) {
            if (k > 0) {
                topics += ',';
            }
            topics += m_topic.code(row.topics[k]);
        }
        append_key_part(key, topics);
        append_key_part(key, m_outcome.code(row.outcome));
        append_key_part(key, row.question);
        append_key_part(key, row.advice);
        append_key_part(key, row.follow_up ? "1" : "0");
        append_key_part(key, row.lang == k_none ? std::string_view() : m_lang.code(row.lang));
        std::string base = uuid_from_key("import-row", key);
        // Identical rows are different consultations (two people with the same profile, topic
        // and outcome on one day): the n-th copy gets its own id, stable across re-imports.
        std::uint32_t occurrence = ++m_content_keys[base];
        id = occurrence == 1
                 ? base
                 : uuid_from_key("import-row", key + "\n#" + std::to_string(occurrence));
    }
    std::copy_n(id->begin(), row.id.size(), row.id.begin());
    m_plan.rows.push_back(std::move(row));
}

// ---- reading files -------------------------------------------------------------------------

// A buffered byte reader that counts physical lines (LF, CRLF or a lone CR end a line).
class ByteReader {
  public:
    explicit ByteReader(std::istream& in) : m_in(in), m_buffer(1 << 16) { fill(); }

    int peek() {
        if (m_pos == m_end && !fill()) {
            return -1;
        }
        return static_cast<unsigned char>(m_buffer[m_pos]);
    }
    int get() {
        int c = peek();
        if (c >= 0) {
            ++m_pos;
        }
        return c;
    }
    // The bytes buffered and not yet consumed (for sniffing the header).
    [[nodiscard]] std::string_view buffered() const {
        return {m_buffer.data() + m_pos, m_end - m_pos};
    }
    void skip(std::size_t n) { m_pos = std::min(m_end, m_pos + n); }
    [[nodiscard]] bool failed() const { return m_in.bad(); }

  private:
    bool fill() {
        if (m_pos < m_end) {
            return true;
        }
        m_in.read(m_buffer.data(), static_cast<std::streamsize>(m_buffer.size()));
        m_pos = 0;
        m_end = static_cast<std::size_t>(m_in.gcount());
        return m_end > 0;
    }
    std::istream& m_in;
    std::vector<char> m_buffer;
    std::size_t m_pos = 0, m_end = 0;
};

struct CsvRecord {
    std::int64_t line = 0;
    std::vector<std::string> fields;
    std::optional<Error> problem; // a quoting fault
    std::vector<char> numeric;    // XLSX: which fields were numeric cells (empty for CSV)
    [[nodiscard]] bool blank() const {
        return std::all_of(fields.begin(), fields.end(),
                           [](const std::string& f) { return normalize_space(f).empty(); });
    }
};

// RFC 4180 records. Lenient where it costs nothing (a quote inside an unquoted field is kept as
// text); strict where data could be misread (text after a closing quote, an unclosed quote).
class CsvReader {
  public:
    CsvReader(ByteReader& in, char delimiter) : m_in(in), m_delimiter(delimiter) {}

    bool next(CsvRecord& rec) {
        rec.fields.clear();
        rec.problem.reset();
        if (m_in.peek() < 0) {
            return false;
        }
        rec.line = m_line;
        std::string field;
        for (;;) {
            int c = m_in.get();
            if (c == '"' && field.empty()) {
                read_quoted(field, rec);
                c = m_in.get();
                while (c >= 0 && c != m_delimiter && c != '\n' && c != '\r') {
                    if (!rec.problem) {
                        rec.problem =
                            make_error(ErrorCode::invalid_input, msg::import_text_after_quote,
                                       rec.fields.size() + 1);
                    }
                    field.push_back(static_cast<char>(c));
                    c = m_in.get();
                }
            } else {
                while (c >= 0 && c != m_delimiter && c != '\n' && c != '\r') {
                    field.push_back(static_cast<char>(c));
                    c = m_in.get();
                }
            }
            rec.fields.push_back(std::move(field));
            field.clear();
            if (c == m_delimiter) {
                continue;
            }
            end_line(c);
            return true;
        }
    }

    [[nodiscard]] std::int64_t line() const { return m_line; }

  private:
    void end_line(int c) {
        if (c == '\r' && m_in.peek() == '\n') {
            m_in.get();
        }
        if (c >= 0) {
            ++m_line;
        }
    }
    void read_quoted(std::string& field, CsvRecord& rec) {
        for (;;) {
            int c = m_in.get();
            if (c < 0) {
                rec.problem = make_error(ErrorCode::invalid_input, msg::import_quote_not_closed,
                                         rec.fields.size() + 1);
                return;
            }
            if (c == '"') {
                if (m_in.peek() == '"') {
                    m_in.get();
                    field.push_back('"');
                    continue;
                }
                return;
            }
            if (c == '\r') {
                field.push_back('\r');
                if (m_in.peek() == '\n') {
                    field.push_back(static_cast<char>(m_in.get()));
                }
                ++m_line;
                continue;
            }
            if (c == '\n') {
                ++m_line;
            }
            field.push_back(static_cast<char>(c));
        }
    }

    ByteReader& m_in;
    char m_delimiter;
    std::int64_t m_line = 1;
};

// Comma, unless the header line has none and has semicolons (Excel in kk/ru locales) or tabs.
char sniff_delimiter(std::string_view head) {
    std::size_t commas = 0, semicolons = 0, tabs = 0;
    bool quoted = false;
    bool seen_text = false;
    for (char c : head) {
        if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && (c == '\n' || c == '\r')) {
            if (seen_text) {
                break;
            }
        } else if (!quoted) {
            commas += c == ',';
            semicolons += c == ';';
            tabs += c == '\t';
        }
        seen_text = seen_text || (c != '\n' && c != '\r' && c != ' ');
    }
    if (commas == 0 && semicolons > 0) {
        return ';';
    }
    if (commas == 0 && tabs > 0) {
        return '\t';
    }
    return ',';
}

constexpr std::string_view k_bom = "\xEF\xBB\xBF";

bool starts_with_utf16_bom(std::string_view head) {
    return head.starts_with("\xFF\xFE") || head.starts_with("\xFE\xFF");
}

// How many of the required columns a header names.
std::size_t required_named_by(const std::vector<std::string>& fields) {
    std::size_t required_named = 0;
    for (std::string_view code : k_required) {
        required_named += std::any_of(fields.begin(), fields.end(), [&](const std::string& f) {
            const JournalColumn* c = find_journal_column(f);
            return c && c->code == code;
        });
    }
    return required_named;
}

// The rows of one worksheet as records: the line is the sheet's row number, rows are as long
// as their last value (ragged), numeric cells are marked.
class XlsxSource {
  public:
    explicit XlsxSource(XlsxReader& reader) : m_reader(reader) {}
    bool next(CsvRecord& rec) {
        rec.fields.clear();
        rec.numeric.clear();
        rec.problem.reset();
        if (m_failure) {
            return false;
        }
        auto more = m_reader.next_row(m_row);
        if (!more) {
            m_failure = more.error();
            return false;
        }
        if (!*more) {
            return false;
        }
        rec.line = m_line = m_row.number;
        for (XlsxCell& cell : m_row.cells) {
            rec.fields.push_back(std::move(cell.text));
            rec.numeric.push_back(cell.number ? 1 : 0);
        }
        return true;
    }
    [[nodiscard]] std::int64_t line() const { return m_line + 1; }
    [[nodiscard]] const std::optional<Error>& failure() const { return m_failure; }

  private:
    XlsxReader& m_reader;
    XlsxRow m_row;
    std::int64_t m_line = 0;
    std::optional<Error> m_failure;
};

// Rows a sheet may have above its header (a title, a date line) before it is taken for data.
constexpr int k_max_title_rows = 20;

// Reads a table (CSV records or a worksheet's rows) into `validator`; header problems stop
// the reading. `ragged`: rows may be shorter than the header (a worksheet omits empty cells at
// the end) and leading rows that name no required column are titles, not the header.
template <class Source>
void read_table(Source& reader, RowValidator& validator, ImportReport& report, bool ragged) {
    CsvRecord rec;
    // Header: the first record that is not blank.
    bool have_header = false;
    int titles = 0;
    while (reader.next(rec)) {
        if (!rec.blank()) {
            if (ragged && titles < k_max_title_rows && required_named_by(rec.fields) == 0) {
                ++titles;
                continue;
            }
            have_header = true;
            break;
        }
    }
    if (ragged && !have_header && titles > 0) {
        report.errors.push_back(issue(reader.line(), "header", msg::import_header_is_data));
        return;
    }
    if (!have_header) {
        report.errors.push_back(issue(reader.line(), "file", msg::import_no_header));
        return;
    }
    const std::int64_t header_line = rec.line;
    if (rec.problem) {
        report.errors.push_back(issue(header_line, "header", *rec.problem));
        return;
    }
    std::vector<std::size_t> positions; // file column -> journal column index
    std::array<bool, k_max_columns> present{};
    std::array<std::size_t, k_max_columns> first_position{};
    // How many required columns the line names decides how it is read. None: it is a row of
    // data (the header was left out), reported without repeating its cells, which are personal
    // data. Some: unknown fields are given by position only, since they may be data too. All:
    // it is a header, and unknown names are quoted.
    const std::size_t required_named = required_named_by(rec.fields);
    if (required_named == 0) {
        report.errors.push_back(issue(header_line, "header", msg::import_header_is_data));
        return;
    }
    const bool quote_unknown = required_named == std::size(k_required);
    bool header_ok = true;
    for (std::size_t i = 0; i < rec.fields.size(); ++i) {
        const std::string& name = rec.fields[i];
        if (!is_valid_utf8(name)) {
            report.errors.push_back(
                issue(header_line, "header", msg::import_header_not_utf8, i + 1));
            header_ok = false;
            continue;
        }
        if (normalize_space(name).empty()) {
            report.errors.push_back(
                issue(header_line, "header", msg::import_header_unnamed, i + 1));
            header_ok = false;
            continue;
        }
        const JournalColumn* c = find_journal_column(name);
        if (!c) {
            std::string known;
            for (const JournalColumn& k : journal_columns()) {
                known += (known.empty() ? "" : ", ") + std::string(k.code);
            }
            report.errors.push_back(
                quote_unknown
                    ? issue(header_line, "header", msg::import_unknown_column, quoted_name(name),
                            i + 1, known)
                    : issue(header_line, "header", msg::import_unknown_column_at, i + 1, known));
            header_ok = false;
            continue;
        }
        std::size_t index = column_index(c);
        if (present[index]) {
            report.errors.push_back(issue(header_line, "header", msg::import_column_twice,
                                          first_position[index] + 1, i + 1, c->code));
            header_ok = false;
            continue;
        }
        present[index] = true;
        first_position[index] = i;
        positions.push_back(index);
    }
    for (std::string_view code : k_required) {
        if (!present[col(code)]) {
            report.errors.push_back(issue(header_line, "header",
                                          msg::import_required_column_missing, code,
                                          header_names(journal_columns()[col(code)])));
            header_ok = false;
        }
    }
    if (!header_ok) {
        return;
    }

    RawRow raw;
    raw.present = present;
    const std::size_t width = rec.fields.size();
    while (reader.next(rec)) {
        if (rec.blank()) {
            continue;
        }
        ++report.rows;
        if (rec.problem) {
            report.errors.push_back(issue(rec.line, "row", *rec.problem));
            continue;
        }
        if (ragged) {
            // Cells right of the header count only when they hold something.
            while (rec.fields.size() > width && normalize_space(rec.fields.back()).empty()) {
                rec.fields.pop_back();
            }
            if (rec.fields.size() < width) {
                rec.fields.resize(width);
                rec.numeric.resize(width, 0);
            }
        }
        if (rec.fields.size() != width) {
            report.errors.push_back(
                issue(rec.line, "row", msg::import_field_count, rec.fields.size(), width));
            continue;
        }
        raw.line = rec.line;
        for (std::size_t i = 0; i < width; ++i) {
            if (positions[i] == col("date") && i < rec.numeric.size() && rec.numeric[i]) {
                // A date cell: Excel stores the day's serial number.
                std::string date = excel_serial_to_date(std::strtod(rec.fields[i].c_str(), nullptr));
                if (!date.empty()) {
                    rec.fields[i] = std::move(date);
                }
            }
            raw.cells[positions[i]] = std::move(rec.fields[i]);
        }
        validator.validate(raw);
    }
}

void read_csv(ByteReader& in, RowValidator& validator, ImportReport& report) {
    char delimiter = sniff_delimiter(in.buffered());
    CsvReader reader(in, delimiter);
    read_table(reader, validator, report, false);
}

// The worksheets whose first rows name a required column (an export has one per region); when
// none does, the first worksheet (its header is then reported).
Result<std::vector<std::size_t>> journal_sheets(XlsxReader& reader) {
    std::vector<std::size_t> found;
    for (std::size_t s = 0; s < reader.sheet_names().size(); ++s) {
        if (auto ok = reader.select_sheet(s); !ok) {
            return tl::unexpected(ok.error());
        }
        XlsxRow row;
        for (int n = 0; n <= k_max_title_rows; ++n) {
            auto more = reader.next_row(row);
            if (!more) {
                return tl::unexpected(more.error());
            }
            if (!*more) {
                break;
            }
            std::vector<std::string> fields;
            for (const XlsxCell& c : row.cells) {
                fields.push_back(c.text);
            }
            if (required_named_by(fields) > 0) {
                found.push_back(s);
                break;
            }
        }
    }
    if (found.empty()) {
        found.push_back(0);
    }
    return found;
}

// Reads the journal sheet of an XLSX workbook; an Error for a damaged or hostile file.
Result<void> read_xlsx(const std::filesystem::path& path, RowValidator& validator,
                       ImportReport& report) {
    auto reader = XlsxReader::open(path);
    if (!reader) {
        return tl::unexpected(reader.error());
    }
    auto sheets = journal_sheets(*reader);
    if (!sheets) {
        return tl::unexpected(sheets.error());
    }
    for (std::size_t sheet : *sheets) {
        if (auto ok = reader->select_sheet(sheet); !ok) {
            return ok;
        }
        const std::size_t before = report.errors.size();
        XlsxSource source(*reader);
        read_table(source, validator, report, true);
        if (source.failure()) {
            return tl::unexpected(*source.failure());
        }
        // This sheet's problems, in row order and named by the sheet.
        std::stable_sort(
            report.errors.begin() + static_cast<std::ptrdiff_t>(before), report.errors.end(),
            [](const ImportIssue& a, const ImportIssue& b) { return a.line < b.line; });
        for (std::size_t i = before; i < report.errors.size(); ++i) {
            report.errors[i].sheet = reader->sheet_names()[sheet];
        }
    }
    return {};
}

// The text of a JSON value as a cell: strings as they are, booleans and numbers spelled out,
// lists (topics) joined with ";", null empty. nullopt for objects and nested lists.
std::optional<std::string> json_cell(const json& value) {
    switch (value.type()) {
    case json::value_t::null:
        return std::string();
    case json::value_t::string:
        return value.get<std::string>();
    case json::value_t::boolean:
        return std::string(value.get<bool>() ? "true" : "false");
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
        return value.dump();
    case json::value_t::array: {
        std::string out;
        for (const json& item : value) {
            if (!item.is_string()) {
                return std::nullopt;
            }
            if (!out.empty()) {
                out += ';';
            }
            out += item.get_ref<const std::string&>();
        }
        return out;
    }
    default:
        return std::nullopt;
    }
}

// One row given as a JSON object (keys are column codes) into `validator`. `document`: a
// row of an export document, whose "labels" key (codes spelled for people) is not a column.
void read_object(const json& object, std::int64_t number, bool document, RawRow& raw,
                 RowValidator& validator, ImportReport& report) {
    raw.line = number;
    raw.present.fill(false);
    bool row_ok = true;
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (document && it.key() == "labels") {
            continue;
        }
        const JournalColumn* c = find_journal_column(it.key());
        if (!c) {
            report.errors.push_back(
                issue(number, "row", msg::import_unknown_key, quoted_name(it.key())));
            row_ok = false;
            continue;
        }
        std::size_t index = column_index(c);
        if (raw.present[index]) {
            report.errors.push_back(issue(number, c->code, msg::import_given_twice));
            row_ok = false;
            continue;
        }
        auto value = json_cell(*it);
        if (!value) {
            report.errors.push_back(issue(number, c->code, msg::import_not_string));
            row_ok = false;
            continue;
        }
        raw.present[index] = true;
        raw.cells[index] = std::move(*value);
    }
    for (std::string_view code : k_required) {
        if (!raw.present[col(code)]) {
            report.errors.push_back(issue(number, code, msg::import_missing_key));
            row_ok = false;
        }
    }
    if (row_ok) {
        validator.validate(raw);
    }
}

void read_jsonl(std::istream& in, RowValidator& validator, ImportReport& report) {
    std::string line;
    std::int64_t number = 0;
    RawRow raw;
    bool any = false;
    while (std::getline(in, line)) {
        ++number;
        if (number == 1 && line.starts_with(k_bom)) {
            line.erase(0, k_bom.size());
        }
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (normalize_space(line).empty()) {
            continue;
        }
        any = true;
        ++report.rows;
        if (!is_valid_utf8(line)) {
            report.errors.push_back(issue(number, "row", msg::import_row_not_utf8));
            continue;
        }
        json object = json::parse(line, nullptr, false);
        if (object.is_discarded() || !object.is_object()) {
            report.errors.push_back(issue(number, "row", msg::import_not_object));
            continue;
        }
        read_object(object, number, false, raw, validator, report);
    }
    if (!any) {
        report.errors.push_back(
            issue(std::max<std::int64_t>(number, 1), "file", msg::import_no_rows));
    }
}

// A `caravan export journal --format json` document: {"format":"caravan-journal", ...,
// "rows":[{...}, ...]}. Each row is read like a JSON line. The number reported for a row is
// its place in "rows".
void read_json_document(std::istream& in, std::uintmax_t size, RowValidator& validator,
                        ImportReport& report) {
    // Parsed whole: a document takes several times its size in memory.
    constexpr std::uintmax_t k_max_document = 256ull << 20;
    if (size > k_max_document) {
        report.errors.push_back(
            issue(1, "file", msg::import_json_document_too_large, k_max_document >> 20));
        return;
    }
    json document = json::parse(in, nullptr, false);
    const json* rows = !document.is_discarded() && document.is_object() && document.contains("rows")
                           ? &document["rows"]
                           : nullptr;
    if (!rows || !rows->is_array()) {
        report.errors.push_back(issue(1, "file", msg::import_not_journal_document));
        return;
    }
    RawRow raw;
    std::int64_t number = 0;
    for (const json& object : *rows) {
        ++number;
        ++report.rows;
        if (!object.is_object()) {
            report.errors.push_back(issue(number, "row", msg::import_not_object));
            continue;
        }
        read_object(object, number, true, raw, validator, report);
    }
    if (number == 0) {
        report.errors.push_back(issue(1, "file", msg::import_no_rows));
    }
}

ImportFormat format_from_extension(const std::filesystem::path& path) {
    std::string ext = fold_case(path.extension().string());
    if (ext == ".csv") {
        return ImportFormat::csv;
    }
    if (ext == ".jsonl" || ext == ".ndjson") {
        return ImportFormat::jsonl;
    }
    if (ext == ".xlsx") {
        return ImportFormat::xlsx;
    }
    return ImportFormat::automatic; // .json may be a document or JSON lines: see the content
}

// A zip archive's first bytes.
bool starts_with_zip(std::string_view head) {
    return head.starts_with(std::string_view("PK\x03\x04", 4));
}

ImportFormat format_from_content(std::string_view head) {
    if (head.starts_with(k_bom)) {
        head.remove_prefix(k_bom.size());
    }
    if (starts_with_zip(head)) {
        return ImportFormat::xlsx;
    }
    std::size_t first = head.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || head[first] != '{') {
        return ImportFormat::csv;
    }
    // JSON lines when the first line is a whole object; otherwise one JSON document (an
    // export spreads its object over many lines).
    std::string_view line = head.substr(first);
    std::size_t end = line.find('\n');
    if (end == std::string_view::npos) {
        json whole = json::parse(line, nullptr, false);
        return whole.is_object() && whole.contains("rows") && whole["rows"].is_array()
                   ? ImportFormat::json
                   : ImportFormat::jsonl;
    }
    json object = json::parse(line.substr(0, end), nullptr, false);
    return !object.is_discarded() && object.is_object() ? ImportFormat::jsonl : ImportFormat::json;
}

// ---- writing -------------------------------------------------------------------------------

// Finds or creates the villages and visits the rows need, each at most once, on first use.
class Resolver {
  public:
    Resolver(Engine& engine, Plan& plan, ImportReport& report, bool write)
        : m_engine(engine), m_plan(plan), m_report(report), m_write(write),
          m_village_ids(plan.villages.size()), m_visit_ids(plan.visits.size()) {}

    [[nodiscard]] Result<void> load_existing() {
        auto villages = m_engine.list_villages();
        if (!villages) {
            return tl::unexpected(villages.error());
        }
        for (const Village& v : *villages) {
            m_existing_villages.emplace(fold_case(v.region) + "\n" + fold_case(v.name), v.id);
        }
        auto visits = m_engine.list_visits(); // ordered by date, id: the first one wins
        if (!visits) {
            return tl::unexpected(visits.error());
        }
        for (const Visit& v : *visits) {
            m_existing_visits.emplace(visit_key(v.village_id, v.date, fold_case(v.lawyer)), v.id);
        }
        return {};
    }

    [[nodiscard]] Result<std::string> visit_id(std::uint32_t index) {
        if (m_visit_ids[index]) {
            return *m_visit_ids[index];
        }
        const VisitKey& visit = m_plan.visits[index];
        auto village = village_id(visit.village);
        if (!village) {
            return tl::unexpected(village.error());
        }
        std::string key = visit_key(*village, visit.date, visit.folded_lawyer);
        if (auto found = m_existing_visits.find(key); found != m_existing_visits.end()) {
            m_visit_ids[index] = found->second;
            return found->second;
        }
        // Deterministic, so two devices importing the same journal converge on one visit.
        std::string id = uuid_from_key("import-visit", key);
        if (m_write) {
            auto added = m_engine.add_past_visit(id, *village, visit.date, visit.lawyer);
            if (!added) {
                return tl::unexpected(added.error());
            }
        }
        ++m_report.visits_created;
        m_visit_ids[index] = id;
        return id;
    }

  private:
    static std::string visit_key(std::string_view village_id, std::string_view date,
                                 std::string_view folded_lawyer) {
        std::string key(village_id);
        key.append("\n").append(date).append("\n").append(folded_lawyer);
        return key;
    }

    Result<std::string> village_id(std::uint32_t index) {
        if (m_village_ids[index]) {
            return *m_village_ids[index];
        }
        const VillageKey& village = m_plan.villages[index];
        std::string id;
        if (auto found = m_existing_villages.find(village.folded);
            found != m_existing_villages.end()) {
            id = found->second;
        } else {
            if (m_write) {
                auto added = m_engine.add_village(
                    {village.name, village.region, village.district, std::nullopt, std::nullopt});
                if (!added) {
                    return tl::unexpected(added.error());
                }
                id = added->id;
            } else {
                id = "new village " + std::to_string(index); // matches no stored visit
            }
            ++m_report.villages_created;
            m_report.new_villages.push_back({village.name, village.region});
        }
        m_village_ids[index] = id;
        return id;
    }

    Engine& m_engine;
    Plan& m_plan;
    ImportReport& m_report;
    bool m_write;
    std::vector<std::optional<std::string>> m_village_ids, m_visit_ids;
    std::unordered_map<std::string, std::string> m_existing_villages; // folded key -> id
    std::unordered_map<std::string, std::string> m_existing_visits;   // visit key -> id
};

Result<void> apply_plan(Engine& engine, Plan& plan, ImportReport& report, bool write,
                        const ImportOptions& options) {
    Resolver resolver(engine, plan, report, write);
    if (auto ok = resolver.load_existing(); !ok) {
        return ok;
    }
    const EnumIndex gender(enums::gender), age(enums::age), category(enums::category),
        topic(enums::topic), outcome(enums::outcome), lang(enums::language);
    ConsultationInput input;
    const auto total = static_cast<std::int64_t>(plan.rows.size());
    std::int64_t done = 0;
    for (PendingRow& row : plan.rows) {
        if (options.progress) {
            options.progress(ImportStage::writing, done++, total);
        }
        std::string_view id(row.id.data(), row.id.size());
        auto present = engine.has_consultation(id);
        if (!present) {
            return tl::unexpected(present.error());
        }
        if (*present) {
            ++report.already_present;
            continue;
        }
        auto visit = resolver.visit_id(row.visit);
        if (!visit) {
            return tl::unexpected(visit.error());
        }
        ++report.imported;
        if (!write) {
            continue;
        }
        input.visit = std::move(*visit);
        input.id = std::string(id);
        input.person = {std::string(gender.code(row.gender)), std::string(age.code(row.age)),
                        std::string(category.code(row.category)), row.vulnerable};
        input.topics.clear();
        for (std::uint8_t k = 0; k < row.topic_count; ++k) {
            input.topics.emplace_back(topic.code(row.topics[k]));
        }
        input.outcome = std::string(outcome.code(row.outcome));
        input.question = std::move(row.question);
        input.advice = std::move(row.advice);
        input.follow_up = row.follow_up;
        input.lang =
            row.lang == k_none ? std::nullopt : std::optional<std::string>(lang.code(row.lang));
        input.lawyer =
            row.lawyer_override.empty() ? plan.visits[row.visit].lawyer : row.lawyer_override;
        auto added = engine.add_consultation(input);
        if (!added) {
            return fail(added.error().code, msg::at_line, row.line, added.error());
        }
    }
    if (options.progress) {
        options.progress(ImportStage::writing, total, total);
    }
    return {};
}

} // namespace

std::string_view to_string(ImportFormat format) {
    switch (format) {
    case ImportFormat::automatic:
        return "automatic";
    case ImportFormat::csv:
        return "csv";
    case ImportFormat::jsonl:
        return "jsonl";
    case ImportFormat::json:
        return "json";
    case ImportFormat::xlsx:
        return "xlsx";
    }
    return "csv";
}

std::string to_string(const ImportIssue& issue) {
    return (issue.sheet.empty() ? "" : issue.sheet + "!") + std::to_string(issue.line) + ": " +
           issue.column + ": " + issue.message;
}

std::string to_string(const ImportIssue& issue, Lang lang) {
    const caravan::Language in = message_lang(lang);
    std::string_view column = issue.column;
    for (const Message* where :
         {&msg::import_where_header, &msg::import_where_row, &msg::import_where_file}) {
        if (where->en == issue.column) {
            column = where->text(in);
        }
    }
    const std::string message =
        issue.error.text ? caravan::localize(issue.error, in) : issue.message;
    return (issue.sheet.empty() ? "" : issue.sheet + "!") + std::to_string(issue.line) + ": " +
           std::string(column) + ": " + message;
}

json to_json(const ImportReport& report) {
    json errors = json::array();
    for (const ImportIssue& e : report.errors) {
        json error = {{"line", e.line}, {"column", e.column}, {"message", e.message}};
        if (!e.sheet.empty()) {
            error["sheet"] = e.sheet;
        }
        errors.push_back(std::move(error));
    }
    json villages = json::array();
    for (const NewVillage& v : report.new_villages) {
        villages.push_back({{"name", v.name}, {"region", v.region}});
    }
    return {{"format", to_string(report.format)},
            {"dry_run", report.dry_run},
            {"ok", report.ok()},
            {"rows", report.rows},
            {"imported", report.imported},
            {"already_present", report.already_present},
            {"villages_created", report.villages_created},
            {"visits_created", report.visits_created},
            {"new_villages", villages},
            {"errors", errors}};
}

Result<ImportReport> import_journal(Engine& engine, const std::filesystem::path& path,
                                    const ImportOptions& options) {
    if (column_count() > k_max_columns || enums::topic.values.size() > k_max_topics) {
        // i18n-exempt: a bug (the column tables outgrew the importer), never a user's doing
        return fail(ErrorCode::internal, "import: more journal columns than the importer holds");
    }
    auto device = engine.device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return fail(ErrorCode::invalid_input, msg::path_is_directory, path.string());
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return fail(std::filesystem::exists(path, ec) ? ErrorCode::io : ErrorCode::not_found,
                    msg::cannot_open_file, path.string(), std::strerror(errno));
    }

    ImportReport report;
    report.dry_run = options.dry_run;
    Plan plan;
    RowValidator validator(device->lawyer, plan, report.errors);
    validator.on_progress(options);

    ByteReader bytes(file);
    std::string_view head = bytes.buffered();
    if (starts_with_utf16_bom(head)) {
        report.errors.push_back(issue(1, "file", msg::import_utf16));
        return report;
    }
    report.format =
        options.format != ImportFormat::automatic ? options.format : format_from_extension(path);
    if (report.format == ImportFormat::automatic) {
        report.format = format_from_content(head);
    }
    if (report.format == ImportFormat::xlsx) {
        file.close();
        if (auto ok = read_xlsx(path, validator, report); !ok) {
            return tl::unexpected(ok.error());
        }
    } else if (report.format == ImportFormat::json) {
        file.clear();
        file.seekg(0);
        std::error_code size_error;
        const std::uintmax_t size = std::filesystem::file_size(path, size_error);
        read_json_document(file, size_error ? 0 : size, validator, report);
        if (file.bad()) {
            return fail(ErrorCode::io, msg::reading_failed, path.string());
        }
    } else if (report.format == ImportFormat::csv) {
        if (head.starts_with(k_bom)) {
            bytes.skip(k_bom.size());
        }
        read_csv(bytes, validator, report);
        if (bytes.failed()) {
            return fail(ErrorCode::io, msg::reading_failed, path.string());
        }
    } else {
        file.clear();
        file.seekg(0);
        read_jsonl(file, validator, report);
        if (file.bad()) {
            return fail(ErrorCode::io, msg::reading_failed, path.string());
        }
    }
    if (!report.ok()) {
        if (report.format != ImportFormat::xlsx) { // XLSX: sorted per sheet already
            std::stable_sort(
                report.errors.begin(), report.errors.end(),
                [](const ImportIssue& a, const ImportIssue& b) { return a.line < b.line; });
        }
        return report;
    }

    if (options.dry_run) {
        if (auto ok = apply_plan(engine, plan, report, false, options); !ok) {
            return tl::unexpected(ok.error());
        }
        return report;
    }
    // One transaction: every row is written, or none.
    auto ok =
        engine.batch([&]() -> Result<void> { return apply_plan(engine, plan, report, true, options); });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return report;
}

} // namespace caravan::client
