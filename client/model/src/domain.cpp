#include "caravan/client/domain.hpp"

#include <array>
#include <cmath>
#include <ctime>
#include <map>
#include <unordered_map>
#include <span>
#include <vector>

#include "caravan/client/iso_time.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client {

namespace {

constexpr EnumValue k_gender[] = {
    {"female", "әйел", "женщина", "female"},
    {"male", "ер", "мужчина", "male"},
    {"unrecorded", "көрсетілмеген", "не указано", "not recorded"},
};

constexpr EnumValue k_age[] = {
    {"0-12", "0–12", "0–12", "0–12"},
    {"13-16", "13–16", "13–16", "13–16"},
    {"17-22", "17–22", "17–22", "17–22"},
    {"23-27", "23–27", "23–27", "23–27"},
    {"28-32", "28–32", "28–32", "28–32"},
    {"33-45", "33–45", "33–45", "33–45"},
    {"46-58", "46–58", "46–58", "46–58"},
    {"59+", "59+", "59+", "59+"},
    {"unrecorded", "көрсетілмеген", "не указано", "not recorded"},
};

constexpr EnumValue k_category[] = {
    {"children", "балалар", "дети", "children"},
    {"youth", "жастар", "молодёжь", "youth"},
    {"civil-servant", "мемлекеттік қызметшілер", "государственные служащие", "civil servants"},
    {"public-sector", "бюджеттік ұйым жұмысшылары", "работники бюджетных организаций",
     "public-sector workers"},
    {"disability", "мүгедектер", "люди с инвалидностью", "people with disabilities"},
    {"older", "жасы үлкен адамдар (50+)", "пожилые люди (50+)", "older people (50+)"},
    {"unemployed", "жұмыссыздар", "безработные", "unemployed"},
    {"ngo", "қоғамдық ұйымдардың өкілдері", "представители НПО", "NGO representatives"},
    {"business", "бизнес-сектор өкілдері", "представители бизнеса", "business"},
    {"other", "басқа санаттар", "другие категории", "other"},
    {"unrecorded", "көрсетілмеген", "не указано", "not recorded"},
};

constexpr EnumValue k_topic[] = {
    {"land", "жер", "земля", "land"},
    {"housing", "тұрғын үй", "жильё", "housing"},
    {"family", "отбасы", "семья", "family"},
    {"inheritance", "мұрагерлік", "наследство", "inheritance"},
    {"labour", "еңбек дауы", "трудовые споры", "labour disputes"},
    {"civil", "азаматтық құқық", "гражданское право", "civil law"},
    {"enforcement", "сот шешімдерін орындау", "исполнение судебных решений",
     "enforcement of court decisions"},
    {"health", "денсаулық сақтау", "здравоохранение", "health"},
    {"education", "білім беру", "образование", "education"},
    {"benefits", "әлеуметтік төлемдер мен мемлекеттік гранттар",
     "социальные выплаты и госгранты", "social benefits and state grants"},
    {"credit", "несие және банкроттық", "кредиты и банкротство", "loans and bankruptcy"},
    {"collectors", "коллекторлар", "коллекторы", "debt collectors"},
    {"consumer", "тұтынушылар құқығы", "права потребителей", "consumer rights"},
    {"domestic-violence", "отбасылық зорлық-зомбылық", "бытовое насилие", "domestic violence"},
    {"tax", "салық", "налоги", "taxes"},
    {"e-gov", "e-Otinish / eGov арқылы шағымдар", "жалобы через e-Otinish / eGov",
     "complaints via e-Otinish / eGov"},
    {"other", "басқа", "другое", "other"},
};

constexpr EnumValue k_outcome[] = {
    {"advice", "кеңес берілді", "дана консультация", "advice given"},
    {"referred", "органға жіберілді", "направлен в орган", "referred to a body"},
    {"document", "құжат дайындалды", "составлен документ", "document drafted"},
    {"case", "қорғауға алынды", "взято на защиту", "case taken on"},
};

constexpr EnumValue k_language[] = {
    {"kk", "қазақша", "казахский", "Kazakh"},
    {"ru", "орысша", "русский", "Russian"},
};

// YYYY-MM-DD of `seconds` (since 1970) in this machine's time zone.
std::string local_date(std::time_t seconds) {
    return iso_8601(local_time(seconds)).substr(0, 10);
}

// Echo a rejected enumeration value only when it is short plain ASCII: it is then a mistyped
// code, not free text that could hold personal data.
MessageArg quoted_if_safe(std::string_view input) {
    if (input.size() > 32) {
        return msg::word_given_value;
    }
    for (char c : input) {
        if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) {
            return msg::word_given_value;
        }
    }
    return "'" + std::string(input) + "'";
}

} // namespace

namespace enums {
const Enumeration gender{"gender", k_gender};
const Enumeration age{"age", k_age};
const Enumeration category{"category", k_category};
const Enumeration topic{"topic", k_topic};
const Enumeration outcome{"outcome", k_outcome};
const Enumeration language{"lang", k_language};
} // namespace enums

Result<Lang> parse_lang(std::string_view text) {
    if (text == "kk") {
        return Lang::kk;
    }
    if (text == "ru") {
        return Lang::ru;
    }
    if (text == "en") {
        return Lang::en;
    }
    return fail(ErrorCode::invalid_input, msg::not_one_of, msg::field_lang, quoted_if_safe(text),
                "kk, ru, en");
}

std::string_view to_string(Lang lang) {
    return lang == Lang::kk ? "kk" : lang == Lang::ru ? "ru" : "en";
}

std::string spelling_key(std::string_view text) {
    std::string folded = fold_case(normalize_space(text));
    std::string out;
    out.reserve(folded.size());
    for (std::size_t i = 0; i < folded.size(); ++i) {
        if (folded[i] == '(' || folded[i] == ')') {
            continue;
        }
        if (folded.compare(i, 2, "\xD1\x91") == 0) { // ё
            out += "\xD0\xB5";                       // е
            ++i;
            continue;
        }
        out.push_back(folded[i]);
    }
    return normalize_space(out);
}

namespace {

// Every spelling of every value (spelling_key of the code and of each label) -> its index. The
// built-in enumerations' tables are computed once per process: folding the labels on every
// parse was a quarter of the time it takes to record a consultation. Other enumerations build
// theirs on the fly.
using SpellingTable = std::unordered_map<std::string, std::size_t>;

SpellingTable spelling_table(std::span<const EnumValue> values) {
    SpellingTable table;
    for (std::size_t i = 0; i < values.size(); ++i) {
        const EnumValue& v = values[i];
        for (std::string_view spelling : {v.code, v.kk, v.ru, v.en}) {
            table.emplace(spelling_key(spelling), i); // the first value spelled so wins
        }
    }
    return table;
}

const SpellingTable* cached_spellings(const Enumeration& e) {
    static const auto tables = [] {
        std::map<const EnumValue*, SpellingTable> t;
        for (const Enumeration* known : {&enums::gender, &enums::age, &enums::category,
                                         &enums::topic, &enums::outcome, &enums::language}) {
            t.emplace(known->values.data(), spelling_table(known->values));
        }
        return t;
    }();
    auto it = tables.find(e.values.data());
    return it == tables.end() ? nullptr : &it->second;
}

} // namespace

std::optional<std::size_t> Enumeration::index_of(std::string_view input) const {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (values[i].code == input) {
            return i; // the usual spelling: no folding needed
        }
    }
    const SpellingTable* cached = cached_spellings(*this);
    SpellingTable computed;
    if (cached == nullptr) {
        computed = spelling_table(values);
        cached = &computed;
    }
    auto it = cached->find(spelling_key(input));
    if (it == cached->end()) {
        return std::nullopt;
    }
    return it->second;
}

Result<std::string> Enumeration::parse(std::string_view input) const {
    if (auto index = index_of(input)) {
        return std::string(values[*index].code);
    }
    return fail(ErrorCode::invalid_input, msg::not_one_of, msg::field(field), quoted_if_safe(input),
                allowed());
}

const EnumValue* Enumeration::find(std::string_view code) const {
    for (const EnumValue& v : values) {
        if (v.code == code) {
            return &v;
        }
    }
    return nullptr;
}

std::string_view Enumeration::label(std::string_view code, Lang lang) const {
    const EnumValue* v = find(code);
    return v ? v->label(lang) : code;
}

std::string Enumeration::allowed() const {
    std::string out;
    for (const EnumValue& v : values) {
        out += (out.empty() ? "" : ", ") + std::string(v.code);
    }
    return out;
}

namespace {

Result<std::string> check_text(std::string_view field, std::string value, std::size_t max_chars,
                               bool required) {
    if (required && value.empty()) {
        return fail(ErrorCode::invalid_input, msg::value_required, msg::field(field));
    }
    if (utf8_length(value) > max_chars) {
        return fail(ErrorCode::invalid_input, msg::too_long, msg::field(field), max_chars);
    }
    return value;
}

} // namespace

Result<std::string> validate_text(std::string_view field, std::string_view text,
                                  std::size_t max_chars, bool required) {
    if (!is_valid_utf8(text)) {
        return fail(ErrorCode::invalid_input, msg::not_utf8, msg::field(field));
    }
    std::string value = normalize_space(text);
    if (!is_safe_text(value)) {
        return fail(ErrorCode::invalid_input, msg::control_character, msg::field(field));
    }
    return check_text(field, std::move(value), max_chars, required);
}

Result<std::string> validate_note(std::string_view field, std::string_view text,
                                  std::size_t max_chars, bool required) {
    if (!is_valid_utf8(text)) {
        return fail(ErrorCode::invalid_input, msg::not_utf8, msg::field(field));
    }
    // Keep line structure (CRLF and a lone CR become LF, as an import does), trim each end.
    std::string lines;
    lines.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\r') {
            lines.push_back('\n');
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else {
            lines.push_back(text[i]);
        }
    }
    size_t begin = lines.find_first_not_of(" \t\n");
    size_t end = lines.find_last_not_of(" \t\n");
    std::string value =
        begin == std::string::npos ? std::string() : lines.substr(begin, end - begin + 1);
    if (!is_safe_text(value)) {
        return fail(ErrorCode::invalid_input, msg::control_character, msg::field(field));
    }
    return check_text(field, std::move(value), max_chars, required);
}

Result<std::string> validate_date(std::string_view field, std::string_view text) {
    auto bad = [&] {
        return fail(ErrorCode::invalid_input, msg::bad_date, msg::field(field),
                    quoted_if_safe(text));
    };
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') {
        return bad();
    }
    int parts[3] = {0, 0, 0};
    size_t pos[3][2] = {{0, 4}, {5, 2}, {8, 2}};
    for (int p = 0; p < 3; ++p) {
        for (size_t k = 0; k < pos[p][1]; ++k) {
            char c = text[pos[p][0] + k];
            if (c < '0' || c > '9') {
                return bad();
            }
            parts[p] = parts[p] * 10 + (c - '0');
        }
    }
    int y = parts[0], m = parts[1], d = parts[2];
    // The form is right: say what else is wrong (1999 is a year, not a malformed date).
    if (y < 2000 || y > 2100) {
        return fail(ErrorCode::invalid_input, msg::date_year_range, msg::field(field),
                    quoted_if_safe(text));
    }
    static constexpr int k_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m < 1 || m > 12 || d < 1 || d > k_days[m - 1] + (m == 2 && leap ? 1 : 0)) {
        return fail(ErrorCode::invalid_input, msg::date_not_in_calendar, msg::field(field),
                    quoted_if_safe(text));
    }
    return std::string(text);
}

Result<std::string> validate_event_date(std::string_view field, std::string_view text) {
    auto date = validate_date(field, text);
    if (!date) {
        return date;
    }
    // A day of slack: the laptop's time zone may be behind the place where the date was typed.
    std::string limit = local_date(std::time(nullptr) + 24 * 60 * 60);
    if (*date > limit) {
        return fail(ErrorCode::invalid_input, msg::date_in_future, msg::field(field),
                    quoted_if_safe(text));
    }
    return date;
}

Result<double> validate_coordinate(std::string_view field, double value, double limit) {
    if (!std::isfinite(value) || value < -limit || value > limit) {
        return fail(ErrorCode::invalid_input, msg::number_between, msg::field(field),
                    static_cast<int>(-limit), static_cast<int>(limit));
    }
    return value;
}

std::string today() {
    return local_date(std::time(nullptr));
}

} // namespace caravan::client
