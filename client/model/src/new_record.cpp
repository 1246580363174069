#include "caravan/client/new_record.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace caravan::client {

namespace {

bool fits(FieldType type, const NewRecord::Value& value) {
    switch (type) {
    case FieldType::text: return std::holds_alternative<std::string_view>(value);
    case FieldType::integer: return std::holds_alternative<std::int64_t>(value);
    case FieldType::real: return std::holds_alternative<double>(value);
    case FieldType::boolean: return std::holds_alternative<bool>(value);
    case FieldType::text_list: return std::holds_alternative<std::span<const std::string>>(value);
    }
    return false;
}

// The schema's field indexes in the order nlohmann::json keeps object keys (std::map: byte
// order of the names).
const std::vector<std::size_t>& key_order(const EntityDef& def) {
    static std::mutex mutex;
    static std::map<const EntityDef*, std::vector<std::size_t>> cache;
    std::lock_guard lock(mutex);
    auto [it, inserted] = cache.try_emplace(&def);
    if (inserted) {
        it->second.resize(def.fields.size());
        for (std::size_t i = 0; i < def.fields.size(); ++i) {
            it->second[i] = i;
        }
        std::sort(it->second.begin(), it->second.end(), [&](std::size_t a, std::size_t b) {
            return def.fields[a].name < def.fields[b].name;
        });
    }
    return it->second;
}

void append_value(std::string& out, const NewRecord::Value& value) {
    struct Writer {
        std::string& out;
        void operator()(std::nullptr_t) const { out += "null"; }
        void operator()(std::string_view text) const { append_json_string(out, text); }
        void operator()(std::int64_t n) const {
            char digits[24];
            auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
            out.append(digits, end);
        }
        // Rare (coordinates): nlohmann's own number format, so the text is the one it dumps.
        void operator()(double x) const { out += nlohmann::json(x).dump(); }
        void operator()(bool b) const { out += b ? "true" : "false"; }
        void operator()(std::span<const std::string> items) const {
            append_json_strings(out, items);
        }
    };
    std::visit(Writer{out}, value);
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
    static constexpr char k_hex[] = "0123456789abcdef";
    out.push_back('"');
    std::size_t plain = 0; // start of the run of bytes copied as they are
    for (std::size_t i = 0; i < text.size(); ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        out.append(text.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            out += "\\u00";
            out.push_back(k_hex[c >> 4]);
            out.push_back(k_hex[c & 0x0f]);
        }
    }
    out.append(text.data() + plain, text.size() - plain);
    out.push_back('"');
}

void append_json_strings(std::string& out, std::span<const std::string> items) {
    out.push_back('[');
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i > 0) {
            out.push_back(',');
        }
        append_json_string(out, items[i]);
    }
    out.push_back(']');
}

NewRecord::NewRecord(const EntityDef& def) : m_def(&def), m_values(def.fields.size(), nullptr) {}

NewRecord& NewRecord::set(std::string_view field, Value value) {
    for (std::size_t i = 0; i < m_def->fields.size(); ++i) {
        const FieldDef& f = m_def->fields[i];
        if (f.name != field) {
            continue;
        }
        if (!std::holds_alternative<std::nullptr_t>(value) && !fits(f.type, value)) {
            throw std::logic_error("NewRecord: wrong type for " + std::string(m_def->type) + "." +
                                   std::string(field));
        }
        m_values[i] = value;
        return *this;
    }
    throw std::logic_error("NewRecord: " + std::string(m_def->type) + " has no field " +
                           std::string(field));
}

std::string NewRecord::payload() const {
    std::string out;
    out.reserve(256);
    out += "{\"fields\":{";
    bool first = true;
    for (std::size_t i : key_order(*m_def)) {
        if (!first) {
            out.push_back(',');
        }
        first = false;
        append_json_string(out, m_def->fields[i].name);
        out.push_back(':');
        append_value(out, m_values[i]);
    }
    out += "}}";
    return out;
}

} // namespace caravan::client
