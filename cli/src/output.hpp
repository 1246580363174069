#pragma once
// Printing helpers shared by commands: JSON documents, localized labels, tables.

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "messages.hpp"

namespace caravan::cli {

void print_json(Context& ctx, const nlohmann::json& document);

// Prints `items` as one JSON array, each item as its own namespace's `to_json(item)` writes it
// (client::to_json, agent::to_json, found by argument-dependent lookup).
template <class Items>
void print_json_array(Context& ctx, const Items& items) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : items) {
        out.push_back(to_json(item));
    }
    print_json(ctx, out);
}

// A word or phrase of the CLI's human output (a `word_*` entry of messages.inc) in the
// context's language. Every phrase is a catalog entry, so a missing one does not compile.
[[nodiscard]] std::string_view phrase(Context& ctx, const Message& text);
// A catalog sentence with its placeholders filled, in the context's language.
[[nodiscard]] std::string say(Context& ctx, const Message& text,
                              const std::vector<MessageArg>& args);

// Label of an enumeration code in the context's language.
[[nodiscard]] std::string label(Context& ctx, const client::Enumeration& e, std::string_view code);
[[nodiscard]] std::string labels(Context& ctx, const client::Enumeration& e,
                                 const std::vector<std::string>& codes);

// Left-aligned columns measured in characters (UTF-8 aware).
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// A table printed row by row (a list of 100,000 consultations is never collected), aligned on
// widths known in advance: each column is as wide as the widest of its header and its
// `width_hint` (a stored code's longest label, the longest village name, ...); a longer cell
// shifts the rest of its row. The header is printed with the first row, or by finish() when
// there is none, so that an error found before any row leaves nothing half printed.
class StreamTable {
  public:
    StreamTable(std::ostream& out, std::vector<std::string> header,
                const std::vector<size_t>& width_hints);
    void row(const std::vector<std::string>& cells);
    void finish();

  private:
    void print(const std::vector<std::string>& cells);
    std::ostream& m_out;
    std::vector<std::string> m_header;
    std::vector<size_t> m_widths;
    bool m_started = false;
};

// The widest label of `e` in the context's language, in characters.
[[nodiscard]] size_t widest_label(Context& ctx, const client::Enumeration& e);

[[nodiscard]] std::string yes_no(Context& ctx, bool value);
// Yes, no, or "not recorded" when absent.
[[nodiscard]] std::string yes_no(Context& ctx, const std::optional<bool>& value);

// Stored text as it may be printed on a terminal: control characters, text-direction overrides
// and bytes that are not UTF-8 shown as visible escapes (client::escape_controls), so that text
// from a record, a file or another device cannot drive the terminal. `shown` is for one-line
// values (TAB and LF escaped too), `shown_note` keeps the line breaks of a question or advice.
// print_json and print_table apply the same rule.
[[nodiscard]] std::string shown(std::string_view text);
[[nodiscard]] std::string shown_note(std::string_view text);

} // namespace caravan::cli
