#include "chart.hpp"

#include <algorithm>

namespace caravan::dashboard {

namespace {

constexpr int k_label = 210, k_width = 420, k_row = 30, k_top = 10;

} // namespace

std::string escape_xml(std::string_view text) {
    std::string out;
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string svg_bars(const std::string& id, const std::string& title, const std::vector<Bar>& bars,
                     double top, std::optional<ReferenceLine> line) {
    top = std::max(top, 1e-9);
    const auto x_of = [&](double v) {
        return k_label + static_cast<int>(std::clamp(v, 0.0, top) / top * k_width);
    };
    const int bottom = k_top + static_cast<int>(bars.size()) * k_row;
    const int height = bottom + (line ? 24 : 6);
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"" +
                      escape_xml(id) + "\" role=\"img\" viewBox=\"0 0 " +
                      std::to_string(k_label + k_width + 90) + " " + std::to_string(height) +
                      "\" aria-label=\"" + escape_xml(title) + "\">";
    int y = k_top;
    for (const Bar& bar : bars) {
        svg += std::string("<g class=\"bar") + (bar.good ? " met" : "") + "\"";
        for (const auto& [name, value] : bar.data) {
            svg += " data-" + name + "=\"" + escape_xml(value) + "\"";
        }
        const int end = x_of(bar.value);
        svg += "><text x=\"" + std::to_string(k_label - 8) + "\" y=\"" + std::to_string(y + 18) +
               "\" text-anchor=\"end\">" + escape_xml(bar.label) + "</text><rect x=\"" +
               std::to_string(k_label) + "\" y=\"" + std::to_string(y + 4) + "\" width=\"" +
               std::to_string(std::max(1, end - k_label)) + "\" height=\"" +
               std::to_string(k_row - 10) + "\"/><text x=\"" + std::to_string(end + 6) + "\" y=\"" +
               std::to_string(y + 18) + "\" class=\"value\">" + escape_xml(bar.value_text) +
               "</text></g>";
        y += k_row;
    }
    if (line) {
        const std::string x = std::to_string(x_of(line->at));
        svg += "<line class=\"target\" x1=\"" + x + "\" y1=\"" + std::to_string(k_top) +
               "\" x2=\"" + x + "\" y2=\"" + std::to_string(bottom) + "\"/><text x=\"" + x +
               "\" y=\"" + std::to_string(bottom + 16) +
               "\" text-anchor=\"middle\" class=\"axis\">" + escape_xml(line->label) + "</text>";
    }
    return svg + "</svg>";
}

} // namespace caravan::dashboard
