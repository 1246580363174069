#pragma once
// Printing helpers shared by commands: JSON documents, localized labels, tables.

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.hpp"

namespace caravan::cli {

void print_json(Context& ctx, const nlohmann::json& document);

// A fixed phrase of the CLI's human output in the context's language.
[[nodiscard]] std::string_view phrase(Context& ctx, std::string_view key);

// Label of an enumeration code in the context's language.
[[nodiscard]] std::string label(Context& ctx, const client::Enumeration& e, std::string_view code);
[[nodiscard]] std::string labels(Context& ctx, const client::Enumeration& e,
                                 const std::vector<std::string>& codes);

// Left-aligned columns measured in characters (UTF-8 aware).
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

[[nodiscard]] std::string yes_no(Context& ctx, bool value);

// Stored text as it may be printed on a terminal: control characters, text-direction overrides
// and bytes that are not UTF-8 shown as visible escapes (client::escape_controls), so that text
// from a record, a file or another device cannot drive the terminal. `shown` is for one-line
// values (TAB and LF escaped too), `shown_note` keeps the line breaks of a question or advice.
// print_json and print_table apply the same rule.
[[nodiscard]] std::string shown(std::string_view text);
[[nodiscard]] std::string shown_note(std::string_view text);

} // namespace caravan::cli
