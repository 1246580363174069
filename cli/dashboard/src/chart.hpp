#pragma once
// Bar and column charts as inline SVG, drawn on the server (no script, nothing loaded): one bar
// per item with its label and its value written after it, scaled to `top`, and an optional
// dashed reference line (100 % of a plan). Each bar's group carries the item's numbers in
// data-* attributes, so that a test can compare what the chart shows with the report.

#include <optional>
#include <string>
#include <vector>

namespace caravan::dashboard {

struct Bar {
    std::string label;                                     // plain text (escaped here)
    double value = 0;                                      // its length
    std::string value_text;                                // written after the bar
    std::vector<std::pair<std::string, std::string>> data; // data-NAME="VALUE" (escaped here)
    bool good = false;                                     // drawn in the "met" colour
};

struct ReferenceLine {
    double at = 0;
    std::string label;
};

// `top`: the value that spans the whole width (larger values are cut there).
[[nodiscard]] std::string svg_bars(const std::string& id, const std::string& title,
                                   const std::vector<Bar>& bars, double top,
                                   std::optional<ReferenceLine> line = std::nullopt);
// Vertical columns as inline SVG, one per item in the given order (weeks along time): the value
// written above each column, the label under it (turned, so that a year of weeks fits), each
// column's group carrying its data-* attributes like svg_bars. `top` as for svg_bars.
[[nodiscard]] std::string svg_columns(const std::string& id, const std::string& title,
                                      const std::vector<Bar>& bars, double top);
// HTML/XML text escaping (& < > ").
[[nodiscard]] std::string escape_xml(std::string_view text);

} // namespace caravan::dashboard
