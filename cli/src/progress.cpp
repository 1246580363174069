#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <string>

#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::cli {

namespace {
constexpr auto k_redraw_every = std::chrono::milliseconds(100);
}

ProgressLine::ProgressLine(std::ostream& err, client::Lang lang, Stdout out)
    : m_err(err), m_lang(lang),
      m_enabled(wanted(err) && (out == Stdout::quiet || ::isatty(STDOUT_FILENO) != 1)) {}

ProgressLine::~ProgressLine() {
    clear();
}

bool ProgressLine::wanted(const std::ostream& err) {
    return &err == &std::cerr && ::isatty(STDERR_FILENO) == 1;
}

void ProgressLine::show(const Message& what, std::int64_t done, std::int64_t total) {
    if (!m_enabled) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (m_shown && done != total && now - m_last < k_redraw_every) {
        return;
    }
    m_last = now;
    std::string text =
        std::string(what.text(client::message_lang(m_lang))) + " " + std::to_string(done);
    if (total > 0) {
        text += "/" + std::to_string(total);
    }
    const std::size_t width = client::utf8_length(text);
    // Spaces over what a longer earlier line left behind.
    m_err << "\r" << text << std::string(m_width > width ? m_width - width : 0, ' ') << std::flush;
    m_width = std::max(m_width, width);
    m_shown = true;
}

void ProgressLine::clear() {
    if (m_shown) {
        m_err << "\r" << std::string(m_width, ' ') << "\r" << std::flush;
        m_shown = false;
    }
}

} // namespace caravan::cli
