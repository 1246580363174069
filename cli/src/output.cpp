#include "output.hpp"


#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::cli {

void print_json(Context& ctx, const nlohmann::json& document) {
    // The dump escapes C0 controls itself; DEL, C1 controls and direction overrides it leaves
    // raw, and those become \uXXXX escapes here (still the same JSON document).
    ctx.out << client::escape_controls(
                   document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), true)
            << "\n";
}

std::string shown(std::string_view text) { return client::escape_controls(text, false); }

std::string shown_note(std::string_view text) { return client::escape_controls(text, true); }

std::string_view phrase(Context& ctx, const Message& text) {
    return text.text(client::message_lang(ctx.lang));
}

std::string say(Context& ctx, const Message& text, const std::vector<MessageArg>& args) {
    const Language lang = client::message_lang(ctx.lang);
    return render(text.text(lang), args, lang);
}

std::string label(Context& ctx, const client::Enumeration& e, std::string_view code) {
    return std::string(e.label(code, ctx.lang));
}

std::string labels(Context& ctx, const client::Enumeration& e,
                   const std::vector<std::string>& codes) {
    std::string out;
    for (const auto& c : codes) {
        out += (out.empty() ? "" : ", ") + label(ctx, e, c);
    }
    return out;
}

std::string yes_no(Context& ctx, bool value) {
    return std::string(phrase(ctx, value ? msg::word_yes : msg::word_no));
}

std::string yes_no(Context& ctx, const std::optional<bool>& value) {
    return value ? yes_no(ctx, *value) : std::string(phrase(ctx, msg::word_not_recorded));
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::vector<std::string>> safe;
    safe.reserve(rows.size());
    for (const auto& row : rows) {
        std::vector<std::string> cells;
        for (const auto& cell : row) {
            cells.push_back(shown(cell));
        }
        safe.push_back(std::move(cells));
    }
    std::vector<size_t> widths(header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], client::utf8_length(row[i]));
        }
    };
    measure(header);
    for (const auto& row : safe) {
        measure(row);
    }
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line.append(widths[i] - client::utf8_length(row[i]) + 2, ' ');
            }
        }
        out << line << "\n";
    };
    print_row(header);
    for (const auto& row : safe) {
        print_row(row);
    }
}

StreamTable::StreamTable(std::ostream& out, std::vector<std::string> header,
                         const std::vector<size_t>& width_hints)
    : m_out(out), m_header(std::move(header)), m_widths(m_header.size(), 0) {
    for (size_t i = 0; i < m_header.size(); ++i) {
        m_widths[i] =
            std::max(client::utf8_length(m_header[i]), i < width_hints.size() ? width_hints[i] : 0);
    }
}

void StreamTable::print(const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size() && i < m_widths.size(); ++i) {
        line += cells[i];
        if (i + 1 < cells.size()) {
            const size_t used = client::utf8_length(cells[i]);
            line.append(used < m_widths[i] ? m_widths[i] - used + 2 : 2, ' ');
        }
    }
    m_out << line << "\n";
}

void StreamTable::row(const std::vector<std::string>& cells) {
    if (!m_started) {
        print(m_header);
        m_started = true;
    }
    print(cells);
}

void StreamTable::finish() {
    if (!m_started) {
        print(m_header);
        m_started = true;
    }
}

size_t widest_label(Context& ctx, const client::Enumeration& e) {
    size_t widest = 0;
    for (const auto& v : e.values) {
        widest = std::max(widest, client::utf8_length(e.label(v.code, ctx.lang)));
    }
    return widest;
}

} // namespace caravan::cli
