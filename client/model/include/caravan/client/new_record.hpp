#pragma once
// The fields of a record being created on this device, typed as its entity's schema says.
//
// A local create is the engine's hot path (a village visit is a few hundred of them, an import
// a hundred thousand). Its event payload is written from these values straight to text, and its
// projection row is bound from them, with no JSON document built in between. The text is the
// canonical form nlohmann::json::dump() gives the same fields (keys in byte order, UTF-8 kept,
// the same escapes), so an event reads and compares the same whichever way it was made.
//
// Values are views: the strings and lists they name must outlive the NewRecord.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "caravan/client/entities.hpp"

namespace caravan::client {

class NewRecord {
  public:
    using Value = std::variant<std::nullptr_t, std::string_view, std::int64_t, double, bool,
                               std::span<const std::string>>;

    // Every field starts null; a create writes every field of its schema.
    explicit NewRecord(const EntityDef& def);

    // Sets a field by its schema name. A name the schema lacks, or a value of another type than
    // the field's, is a programming error: it throws std::logic_error.
    NewRecord& set(std::string_view field, Value value);

    [[nodiscard]] const EntityDef& def() const { return *m_def; }
    // The value of the schema's i-th field.
    [[nodiscard]] const Value& value(std::size_t i) const { return m_values[i]; }

    // {"fields":{...}}: the event payload of the create.
    [[nodiscard]] std::string payload() const;

  private:
    const EntityDef* m_def;
    std::vector<Value> m_values;
};

// An optional value: null when absent.
[[nodiscard]] inline NewRecord::Value or_null(const std::optional<std::string>& text) {
    return text ? NewRecord::Value(std::string_view(*text)) : NewRecord::Value(nullptr);
}
[[nodiscard]] inline NewRecord::Value or_null(const std::optional<double>& x) {
    return x ? NewRecord::Value(*x) : NewRecord::Value(nullptr);
}
[[nodiscard]] inline NewRecord::Value or_null(const std::optional<bool>& flag) {
    return flag ? NewRecord::Value(*flag) : NewRecord::Value(nullptr);
}

// Appends `text` to `out` as a JSON string, escaped as nlohmann::json::dump() escapes valid
// UTF-8: quote, backslash and control characters only.
void append_json_string(std::string& out, std::string_view text);
// Appends a list of strings as a JSON array.
void append_json_strings(std::string& out, std::span<const std::string> items);

} // namespace caravan::client
