#pragma once
// One progress line on stderr, rewritten in place, for long work a person waits for (sync,
// import, export, report). Drawn only when a person watches: `err` is the process's stderr and
// stderr is a terminal. Otherwise (a pipe, a file, a test's string stream) it draws nothing, so
// scripts see exactly the final summary.

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string_view>

#include "caravan/client/domain.hpp"
#include "caravan/storage/message.hpp"

namespace caravan::cli {

class ProgressLine {
  public:
    // Whether the work prints its data on stdout as it goes (a journal streamed to stdout):
    // then the line is not drawn when stdout is a terminal too, where it would land among the
    // data.
    enum class Stdout { quiet, data };

    // `lang` is the language of the phase words shown.
    ProgressLine(std::ostream& err, client::Lang lang, Stdout out = Stdout::quiet);
    ~ProgressLine();
    ProgressLine(const ProgressLine&) = delete;
    ProgressLine& operator=(const ProgressLine&) = delete;

    // True when `err` is stderr and stderr is a terminal.
    [[nodiscard]] static bool wanted(const std::ostream& err);

    // "<what> <done>[/<total>]" (total 0: unknown). Redrawn at most every 100 ms (the first
    // call and done == total always draw), so a loop may call it for every row.
    void show(const Message& what, std::int64_t done, std::int64_t total = 0);
    // Wipes the line (before the final summary is printed). Also done by the destructor.
    void clear();

  private:
    std::ostream& m_err;
    client::Lang m_lang;
    bool m_enabled;
    bool m_shown = false;
    std::size_t m_width = 0; // characters of the longest line drawn
    std::chrono::steady_clock::time_point m_last{};
};

} // namespace caravan::cli
