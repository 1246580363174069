#include "caravan/client/export/xlsx.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include <xlsxwriter.h>

#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client::exports {

namespace {

constexpr std::size_t k_max_sheet_units = 31; // Excel counts UTF-16 code units
constexpr std::uint32_t k_max_row = 1048575;
constexpr double k_line_points = 15;    // one line of the default 11-point font
constexpr double k_letter = 1.1;        // a letter's width in digit widths (see wrapped_lines)
constexpr double k_bold_letter = 1.25;  // the same in bold (headers)
constexpr double k_portrait_width = 100; // wider sheets (in characters) print landscape

// Length in bytes of the UTF-8 sequence starting with `lead`.
std::size_t sequence_length(unsigned char lead) {
    return lead < 0x80 ? 1 : (lead & 0xe0) == 0xc0 ? 2 : (lead & 0xf0) == 0xe0 ? 3 : 4;
}

// The longest prefix of `text` (whole code points) that fits in `units` UTF-16 code units.
std::string cut_utf16(std::string_view text, std::size_t units) {
    std::size_t used = 0, i = 0;
    while (i < text.size()) {
        std::size_t len =
            std::min(sequence_length(static_cast<unsigned char>(text[i])), text.size() - i);
        std::size_t need = len == 4 ? 2 : 1;
        if (used + need > units) {
            break;
        }
        used += need;
        i += len;
    }
    return std::string(text.substr(0, i));
}

// Like cut_utf16, but a cut inside a word goes back to the end of the previous word (with any
// punctuation before it) when there is one.
std::string cut_words(std::string_view text, std::size_t units) {
    std::string cut = cut_utf16(text, units);
    if (cut.size() == text.size() || text[cut.size()] == ' ') {
        return cut;
    }
    std::size_t space = cut.rfind(' ');
    if (space == std::string::npos || space == 0) {
        return cut; // one long word: cut inside it
    }
    cut.resize(space);
    while (!cut.empty() && (cut.back() == ' ' || cut.back() == ',' || cut.back() == '-' ||
                            cut.back() == ';' || cut.back() == '(')) {
        cut.pop_back();
    }
    return cut;
}

// How many lines `text` takes in a wrapped cell `width` characters wide (Excel's unit: the
// width of a digit). Words wrap greedily; a letter is counted a little wider than a digit, so
// that the estimate holds for the wider fonts (DejaVu Sans in LibreOffice without Carlito);
// a word longer than the line is broken.
double text_width(std::string_view word, double letter) {
    double w = 0;
    for (unsigned char c : word) {
        if (c < 0x80) {
            w += letter - 0.2; // Latin letters and digits are narrower than Cyrillic ones
        } else if ((c & 0xc0) != 0x80) {
            w += letter;
        }
    }
    return w;
}

std::uint32_t wrapped_lines(std::string_view text, double width, double letter) {
    const double line = std::max(1.0, width - 1.0);
    std::uint32_t lines = 0;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        std::string_view paragraph =
            text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
        ++lines;
        double used = 0;
        std::size_t i = 0;
        while (i < paragraph.size()) {
            std::size_t space = paragraph.find(' ', i);
            std::string_view word = paragraph.substr(
                i, space == std::string_view::npos ? std::string_view::npos : space - i);
            double w = text_width(word, letter);
            if (used > 0 && used + letter + w > line) {
                ++lines;
                used = 0;
            }
            if (used > 0) {
                used += letter; // the space
            }
            while (w > line) { // a word longer than a line
                ++lines;
                w -= line;
            }
            used += w;
            i = space == std::string_view::npos ? paragraph.size() : space + 1;
        }
        if (end == std::string_view::npos) {
            break;
        }
        start = end + 1;
    }
    return std::max<std::uint32_t>(lines, 1);
}

std::string trim_for_sheet(std::string text) {
    // Apostrophes may not open or close a name; spaces at the ends are invisible anyway.
    while (!text.empty() && (text.front() == '\'' || text.front() == ' ')) {
        text.erase(text.begin());
    }
    while (!text.empty() && (text.back() == '\'' || text.back() == ' ')) {
        text.pop_back();
    }
    return text;
}

bool taken(const std::string& name, const std::vector<std::string>& used) {
    std::string folded = fold_case(name);
    if (folded == "history") {
        return true;
    }
    return std::any_of(used.begin(), used.end(),
                       [&](const std::string& u) { return fold_case(u) == folded; });
}

// libxlsxwriter reports its own errors on stderr ("[ERROR] workbook_close(): Zip ZIP_ERRNO
// ... System error = No space left on device") before returning a code: raw English lines
// that name our temporary files. While it runs, stderr goes to a memory file; its lines are
// kept to tell a full disk apart, and any line that is not the library's is passed on. The
// redirection is process-wide, so one capture runs at a time.
class LibraryOutput {
  public:
    LibraryOutput() : m_lock(mutex()) {
        std::fflush(stderr);
        m_memory = ::memfd_create("caravan-xlsx-stderr", MFD_CLOEXEC);
        m_saved = m_memory >= 0 ? ::dup(STDERR_FILENO) : -1;
        if (m_saved < 0 || ::dup2(m_memory, STDERR_FILENO) < 0) {
            release();
        }
    }
    ~LibraryOutput() { finish(); }
    LibraryOutput(const LibraryOutput&) = delete;
    LibraryOutput& operator=(const LibraryOutput&) = delete;

    // Restores stderr; returns the library's lines.
    std::string finish() {
        if (m_saved < 0) {
            release();
            return m_library;
        }
        std::fflush(stderr);
        ::dup2(m_saved, STDERR_FILENO);
        std::string captured;
        char buf[4096];
        for (off_t at = 0;;) {
            ssize_t n = ::pread(m_memory, buf, sizeof buf, at);
            if (n <= 0) {
                break;
            }
            captured.append(buf, static_cast<std::size_t>(n));
            at += n;
        }
        release();
        std::string others;
        for (std::size_t start = 0; start < captured.size();) {
            std::size_t end = captured.find('\n', start);
            end = end == std::string::npos ? captured.size() : end + 1;
            std::string_view line(captured.data() + start, end - start);
            (line.starts_with("[ERROR]") || line.starts_with("[WARNING]") ? m_library : others) +=
                line;
            start = end;
        }
        if (!others.empty()) {
            (void)!::write(STDERR_FILENO, others.data(), others.size());
        }
        return m_library;
    }

  private:
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    void release() {
        if (m_saved >= 0) {
            ::close(m_saved);
            m_saved = -1;
        }
        if (m_memory >= 0) {
            ::close(m_memory);
            m_memory = -1;
        }
    }
    std::lock_guard<std::mutex> m_lock;
    int m_memory = -1;
    int m_saved = -1;
    std::string m_library;
};

// True when the library's lines or errno say that the disk is full.
bool disk_full(const std::string& library_lines, int err) {
    return err == ENOSPC || err == EDQUOT ||
           library_lines.find(std::strerror(ENOSPC)) != std::string::npos ||
           library_lines.find(std::strerror(EDQUOT)) != std::string::npos;
}

Error library_error(lxw_error e, std::string_view what) {
    if (e == LXW_ERROR_MAX_STRING_LENGTH_EXCEEDED) {
        return make_error(ErrorCode::invalid_input, msg::xlsx_cell_too_long);
    }
    if (e == LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE) {
        return make_error(ErrorCode::invalid_input, msg::xlsx_too_many_rows);
    }
    if (e == LXW_ERROR_CREATING_XLSX_FILE || e == LXW_ERROR_CREATING_TMPFILE ||
        e == LXW_ERROR_READING_TMPFILE || e == LXW_ERROR_ZIP_FILE_OPERATION ||
        e == LXW_ERROR_ZIP_CLOSE || e == LXW_ERROR_ZIP_FILE_ADD) {
        return make_error(ErrorCode::io, msg::xlsx_failed, what, lxw_strerror(e));
    }
    return make_error(ErrorCode::internal, msg::xlsx_failed, what, lxw_strerror(e));
}

} // namespace

std::string make_sheet_name(std::string_view wanted, const std::vector<std::string>& used,
                            std::string_view fallback) {
    std::string name;
    for (char c : normalize_space(wanted)) {
        bool bad = c == '[' || c == ']' || c == ':' || c == '*' || c == '?' || c == '/' ||
                   c == '\\' || (static_cast<unsigned char>(c) < 0x20);
        name.push_back(bad ? '_' : c);
    }
    name = trim_for_sheet(cut_words(name, k_max_sheet_units));
    if (name.empty()) {
        name = trim_for_sheet(cut_utf16(normalize_space(fallback), k_max_sheet_units));
    }
    if (name.empty()) {
        name = "Sheet";
    }
    if (!taken(name, used)) {
        return name;
    }
    for (int n = 2;; ++n) {
        std::string suffix = " (" + std::to_string(n) + ")";
        std::string candidate =
            trim_for_sheet(cut_words(name, k_max_sheet_units - suffix.size())) + suffix;
        if (!taken(candidate, used)) {
            return candidate;
        }
    }
}

struct XlsxWriter::Impl {
    lxw_workbook* book = nullptr;
    lxw_worksheet* sheet = nullptr;
    std::uint16_t columns = 0;
    std::uint32_t last_row = 0;
    std::vector<std::string> names;
    std::string tmpdir;
    lxw_format* formats[6] = {};
    lxw_format* header = nullptr;
    lxw_format* wrapped_text = nullptr; // a plain text cell too long for its column
    std::vector<double> widths;         // the current sheet's columns
    // The row whose height is still open: the most lines one of its cells needs.
    std::uint32_t height_row = 0;
    std::uint32_t height_lines = 1;

    ~Impl() {
        if (book) {
            lxw_workbook_free(book); // not closed: nothing is written
        }
    }

    lxw_format* format(CellStyle style) const { return formats[static_cast<int>(style)]; }

    // libxlsxwriter does not check the writes to a constant-memory sheet's temporary file: a
    // full disk there would yield a truncated sheet in a workbook reported as written. The
    // stdio error flag tells.
    Result<void> check_sheet_data() const {
        if (sheet && sheet->optimize_tmpfile &&
            (std::fflush(sheet->optimize_tmpfile) != 0 || std::ferror(sheet->optimize_tmpfile))) {
            return fail(ErrorCode::io, msg::xlsx_temp_failed);
        }
        return {};
    }

    // Sets the height of the open row when a cell needs more than one line (LibreOffice does
    // not size rows by itself: wrapped text would overlap the next row or be cut off).
    void close_height() {
        if (sheet && height_lines > 1) {
            (void)worksheet_set_row(sheet, height_row, k_line_points * height_lines + 3, nullptr);
        }
        height_lines = 1;
    }
    // Records that (row, col) holds `text` wrapped; closes the previous row's height first.
    void need_lines(std::uint32_t row, std::uint16_t col, std::string_view text, double letter) {
        if (row != height_row) {
            close_height();
            height_row = row;
        }
        double width = col < widths.size() ? widths[col] : 8.43;
        height_lines = std::max(height_lines, wrapped_lines(text, width, letter));
    }

    Result<void> finish_sheet() {
        close_height();
        if (sheet && columns > 0) {
            (void)worksheet_autofilter(sheet, 0, 0, last_row, columns - 1);
        }
        return check_sheet_data();
    }
};

XlsxWriter::XlsxWriter(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
XlsxWriter::XlsxWriter(XlsxWriter&&) noexcept = default;
XlsxWriter::~XlsxWriter() = default;

Result<XlsxWriter> XlsxWriter::create(const std::filesystem::path& file,
                                      const XlsxOptions& options) {
    auto impl = std::make_unique<Impl>();
    // Temporary sheet data goes next to the output (the same file system, often larger than
    // a RAM-backed /tmp); the files are unlinked as soon as they are created.
    std::filesystem::path dir = file.parent_path();
    impl->tmpdir = dir.empty() ? std::string(".") : dir.string();
    lxw_workbook_options lxw_options{};
    lxw_options.constant_memory = LXW_TRUE;
    lxw_options.tmpdir = impl->tmpdir.data();
    lxw_options.use_zip64 = LXW_TRUE; // large journals stay readable
    {
        LibraryOutput quiet;
        impl->book = workbook_new_opt(file.c_str(), &lxw_options);
    }
    if (!impl->book) {
        // i18n-exempt: libxlsxwriter only refuses here when memory runs out
        return fail(ErrorCode::internal, "xlsx: cannot create a workbook");
    }
    for (int s = 0; s < 6; ++s) {
        lxw_format* f = workbook_add_format(impl->book);
        format_set_align(f, LXW_ALIGN_VERTICAL_TOP); // rows grow: every cell starts at the top
        switch (static_cast<CellStyle>(s)) {
        case CellStyle::text:
            break;
        case CellStyle::wrap:
            format_set_text_wrap(f);
            break;
        case CellStyle::integer:
            format_set_num_format(f, "0");
            break;
        case CellStyle::decimal:
            format_set_num_format(f, "0.0");
            break;
        case CellStyle::date:
            format_set_num_format(f, options.date_format.c_str());
            format_set_align(f, LXW_ALIGN_LEFT);
            break;
        case CellStyle::bold:
            format_set_bold(f);
            break;
        }
        impl->formats[s] = f;
    }
    impl->header = workbook_add_format(impl->book);
    format_set_bold(impl->header);
    format_set_text_wrap(impl->header);
    format_set_align(impl->header, LXW_ALIGN_VERTICAL_TOP);
    format_set_bottom(impl->header, LXW_BORDER_THIN);
    impl->wrapped_text = workbook_add_format(impl->book);
    format_set_text_wrap(impl->wrapped_text);
    format_set_align(impl->wrapped_text, LXW_ALIGN_VERTICAL_TOP);
    return XlsxWriter(std::move(impl));
}

const std::vector<std::string>& XlsxWriter::sheet_names() const {
    return m_impl->names;
}

Result<void> XlsxWriter::add_sheet(std::string_view wanted, std::string_view fallback,
                                   std::span<const XlsxColumn> columns) {
    if (auto ok = m_impl->finish_sheet(); !ok) {
        return ok;
    }
    std::string name = make_sheet_name(wanted, m_impl->names, fallback);
    lxw_worksheet* sheet = workbook_add_worksheet(m_impl->book, name.c_str());
    if (!sheet) {
        // i18n-exempt: a bug (make_sheet_name produced a name Excel refuses)
        return fail(ErrorCode::internal, "xlsx: the sheet name was refused");
    }
    m_impl->names.push_back(name);
    m_impl->sheet = sheet;
    m_impl->columns = static_cast<std::uint16_t>(columns.size());
    m_impl->last_row = 0;
    m_impl->widths.clear();
    m_impl->height_row = 0;
    m_impl->height_lines = 1;
    double total_width = 0;
    for (const XlsxColumn& column : columns) {
        // A header's longest word fits its column ("консультации" is not broken in two).
        double longest = 0;
        std::string_view header = column.header;
        for (std::size_t i = 0; i < header.size();) {
            std::size_t space = header.find(' ', i);
            std::string_view word = header.substr(
                i, space == std::string_view::npos ? std::string_view::npos : space - i);
            longest = std::max(longest, text_width(word, k_bold_letter) + 1.5);
            i = space == std::string_view::npos ? header.size() : space + 1;
        }
        double width = std::max(column.width, std::min(longest, 24.0));
        m_impl->widths.push_back(width);
        total_width += width;
    }
    // On paper: A4, one page wide (as many pages long as it takes), the header row on every
    // page, landscape when the columns are wider than a portrait page, page numbers below.
    worksheet_set_paper(sheet, 9);
    if (total_width > k_portrait_width) {
        worksheet_set_landscape(sheet);
    } else {
        worksheet_set_portrait(sheet);
    }
    worksheet_fit_to_pages(sheet, 1, 0);
    worksheet_set_margins(sheet, 0.4, 0.4, 0.6, 0.6);
    worksheet_repeat_rows(sheet, 0, 0);
    worksheet_gridlines(sheet, LXW_SHOW_ALL_GRIDLINES);
    worksheet_set_header(sheet, "&L&A");       // the sheet's name: which table this is
    worksheet_set_footer(sheet, "&C&P / &N");
    for (std::uint16_t c = 0; c < columns.size(); ++c) {
        const XlsxColumn& column = columns[c];
        lxw_format* f = column.style == CellStyle::text ? nullptr : m_impl->format(column.style);
        if (auto e = worksheet_set_column(sheet, c, c, m_impl->widths[c], f); e != LXW_NO_ERROR) {
            return tl::unexpected(library_error(e, "column"));
        }
    }
    for (std::uint16_t c = 0; c < columns.size(); ++c) {
        std::string header(columns[c].header);
        if (auto e = worksheet_write_string(sheet, 0, c, header.c_str(), m_impl->header);
            e != LXW_NO_ERROR) {
            return tl::unexpected(library_error(e, "header"));
        }
        m_impl->need_lines(0, c, header, k_bold_letter);
    }
    worksheet_freeze_panes(sheet, 1, 0);
    return {};
}

Result<void> XlsxWriter::text(std::uint32_t row, std::uint16_t col, std::string_view value,
                              CellStyle style) {
    if (row > k_max_row) {
        return tl::unexpected(library_error(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE, "row"));
    }
    m_impl->last_row = std::max(m_impl->last_row, row);
    if (value.empty()) {
        return {}; // an empty cell, not an empty string
    }
    std::string copy(value);
    lxw_format* format = m_impl->format(style);
    const double letter = style == CellStyle::bold ? k_bold_letter : k_letter;
    const double width = col < m_impl->widths.size() ? m_impl->widths[col] : 8.43;
    if (style == CellStyle::wrap) {
        m_impl->need_lines(row, col, value, letter);
    } else if (style == CellStyle::text && wrapped_lines(value, width, letter) > 1) {
        // Too long for its column: wrapped rather than cut off at the next cell.
        format = m_impl->wrapped_text;
        m_impl->need_lines(row, col, value, letter);
    } else {
        m_impl->need_lines(row, col, "", letter);
    }
    if (auto e = worksheet_write_string(m_impl->sheet, row, col, copy.c_str(), format);
        e != LXW_NO_ERROR) {
        return tl::unexpected(library_error(e, "cell"));
    }
    return {};
}

Result<void> XlsxWriter::number(std::uint32_t row, std::uint16_t col, double value,
                                CellStyle style) {
    if (row > k_max_row) {
        return tl::unexpected(library_error(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE, "row"));
    }
    m_impl->last_row = std::max(m_impl->last_row, row);
    m_impl->need_lines(row, col, "", k_letter);
    if (auto e = worksheet_write_number(m_impl->sheet, row, col, value, m_impl->format(style));
        e != LXW_NO_ERROR) {
        return tl::unexpected(library_error(e, "cell"));
    }
    return {};
}

Result<void> XlsxWriter::date(std::uint32_t row, std::uint16_t col, std::string_view iso) {
    auto digits = [&](size_t pos, size_t n, int& out) {
        out = 0;
        for (size_t k = pos; k < pos + n; ++k) {
            if (iso[k] < '0' || iso[k] > '9') {
                return false;
            }
            out = out * 10 + (iso[k] - '0');
        }
        return true;
    };
    lxw_datetime when{};
    if (iso.size() != 10 || iso[4] != '-' || iso[7] != '-' || !digits(0, 4, when.year) ||
        !digits(5, 2, when.month) || !digits(8, 2, when.day) || when.year < 1900) {
        return text(row, col, iso);
    }
    if (row > k_max_row) {
        return tl::unexpected(library_error(LXW_ERROR_WORKSHEET_INDEX_OUT_OF_RANGE, "row"));
    }
    m_impl->last_row = std::max(m_impl->last_row, row);
    m_impl->need_lines(row, col, "", k_letter);
    if (auto e = worksheet_write_datetime(m_impl->sheet, row, col, &when,
                                          m_impl->format(CellStyle::date));
        e != LXW_NO_ERROR) {
        return tl::unexpected(library_error(e, "cell"));
    }
    return {};
}

Result<void> XlsxWriter::close() {
    if (!m_impl->book) {
        // i18n-exempt: a bug in the caller (close called twice)
        return fail(ErrorCode::internal, "xlsx: the workbook is already closed");
    }
    if (m_impl->names.empty()) {
        // i18n-exempt: a bug in the caller (close before any sheet)
        return fail(ErrorCode::internal, "xlsx: a workbook needs a sheet");
    }
    if (auto ok = m_impl->finish_sheet(); !ok) {
        return ok;
    }
    lxw_error e = LXW_NO_ERROR;
    std::string library_lines;
    int err = 0;
    {
        LibraryOutput quiet;
        errno = 0;
        e = workbook_close(m_impl->book); // frees the workbook, whatever the outcome
        err = errno;
        library_lines = quiet.finish();
    }
    m_impl->book = nullptr;
    if (e != LXW_NO_ERROR) {
        if (disk_full(library_lines, err)) {
            return fail(ErrorCode::storage_full, msg::xlsx_disk_full);
        }
        return tl::unexpected(library_error(e, "writing the file"));
    }
    return {};
}

} // namespace caravan::client::exports
