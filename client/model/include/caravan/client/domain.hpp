#pragma once
// The vocabulary of the field: enumerations with their Kazakh, Russian and English labels, and
// the validation of single values. Every user-facing spelling of a value is accepted on input
// (the code, or its label in any language, see spelling_key); the code is what is stored and
// synced. The command line and the journal import both read spellings through
// Enumeration::index_of, so they accept and refuse the same ones.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::client {

enum class Lang { kk, ru, en };

[[nodiscard]] Result<Lang> parse_lang(std::string_view text);
[[nodiscard]] std::string_view to_string(Lang lang);

struct EnumValue {
    std::string_view code;
    std::string_view kk;
    std::string_view ru;
    std::string_view en;

    [[nodiscard]] std::string_view label(Lang lang) const {
        return lang == Lang::kk ? kk : lang == Lang::ru ? ru : en;
    }
};

// The key an enumeration spelling is matched by: spaces trimmed and folded, case folded
// (Kazakh and Russian letters included), "ё" read as "е" (Russian is usually typed without it)
// and parentheses dropped ("жасы үлкен адамдар 50+", as the grant report writes it).
[[nodiscard]] std::string spelling_key(std::string_view text);

struct Enumeration {
    std::string_view field; // as named in messages: "gender", "age", ...
    std::span<const EnumValue> values;

    // The index in `values` of the value spelled `input`: its code or its kk, ru or en label,
    // compared by spelling_key. nullopt when no value is spelled so.
    [[nodiscard]] std::optional<std::size_t> index_of(std::string_view input) const;
    // The code for `input` (as index_of reads it); invalid_input naming the field and the
    // allowed codes otherwise.
    [[nodiscard]] Result<std::string> parse(std::string_view input) const;
    [[nodiscard]] const EnumValue* find(std::string_view code) const;
    // Label for a stored code; the code itself when unknown.
    [[nodiscard]] std::string_view label(std::string_view code, Lang lang) const;
    [[nodiscard]] std::string allowed() const; // "female, male, unrecorded"
};

namespace enums {
extern const Enumeration gender;
extern const Enumeration age;
extern const Enumeration category;
extern const Enumeration topic;
extern const Enumeration outcome;
extern const Enumeration language; // language of a consultation: kk, ru
} // namespace enums

inline constexpr std::string_view k_unrecorded = "unrecorded";

// Checks text from a user or a file: valid UTF-8, whitespace normalised, within `max_chars`,
// non-empty when `required`. `field` names the field in the message; the text itself is never
// echoed (it may be personal data).
[[nodiscard]] Result<std::string> validate_text(std::string_view field, std::string_view text,
                                                std::size_t max_chars, bool required = true);
// Like validate_text but keeps line breaks (question and advice summaries).
[[nodiscard]] Result<std::string> validate_note(std::string_view field, std::string_view text,
                                                std::size_t max_chars, bool required = true);
// A calendar date YYYY-MM-DD between 2000-01-01 and 2100-12-31.
[[nodiscard]] Result<std::string> validate_date(std::string_view field, std::string_view text);
// The date of something that happened (a visit): validate_date, and not after tomorrow in local
// time (a visit dated 2030 is a typo for 2023, refused rather than counted in a future year).
[[nodiscard]] Result<std::string> validate_event_date(std::string_view field,
                                                      std::string_view text);
[[nodiscard]] Result<double> validate_coordinate(std::string_view field, double value, double limit);
// Today's date in local time, YYYY-MM-DD.
[[nodiscard]] std::string today();

inline constexpr std::size_t k_max_name_chars = 200;
inline constexpr std::size_t k_max_note_chars = 10000;

} // namespace caravan::client
