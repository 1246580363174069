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

std::string svg_columns(const std::string& id, const std::string& title,
                        const std::vector<Bar>& bars, double top) {
    constexpr int k_plot = 180, k_left = 28, k_room = 900, k_under = 60, k_over = 18;
    top = std::max(top, 1e-9);
    const int n = std::max<int>(1, static_cast<int>(bars.size()));
    const int step = std::clamp(k_room / n, 8, 48);
    const int width = k_left * 2 + step * n;
    const int base = k_over + k_plot;
    std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart columns\" id=\"" +
                      escape_xml(id) + "\" role=\"img\" viewBox=\"0 0 " + std::to_string(width) +
                      " " + std::to_string(base + k_under) + "\" aria-label=\"" +
                      escape_xml(title) + "\"><line class=\"base\" x1=\"" + std::to_string(k_left) +
                      "\" y1=\"" + std::to_string(base) + "\" x2=\"" +
                      std::to_string(width - k_left) + "\" y2=\"" + std::to_string(base) + "\"/>";
    int x = k_left;
    for (const Bar& bar : bars) {
        const int h = static_cast<int>(std::clamp(bar.value, 0.0, top) / top * k_plot);
        const int mid = x + step / 2;
        svg += "<g class=\"bar\"";
        for (const auto& [name, value] : bar.data) {
            svg += " data-" + name + "=\"" + escape_xml(value) + "\"";
        }
        svg += "><rect x=\"" + std::to_string(x + 1) + "\" y=\"" + std::to_string(base - h) +
               "\" width=\"" + std::to_string(std::max(2, step - 2)) + "\" height=\"" +
               std::to_string(h) + "\"/><text x=\"" + std::to_string(mid) + "\" y=\"" +
               std::to_string(base - h - 4) + "\" text-anchor=\"middle\" class=\"value\">" +
               escape_xml(bar.value_text) + "</text><text class=\"axis\" text-anchor=\"end\" " +
               "transform=\"translate(" + std::to_string(mid + 4) + " " + std::to_string(base + 8) +
               ") rotate(-60)\">" + escape_xml(bar.label) + "</text></g>";
        x += step;
    }
    return svg + "</svg>";
}

} // namespace caravan::dashboard
