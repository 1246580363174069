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
    name = trim_for_sheet(cut_utf16(name, k_max_sheet_units));
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
            trim_for_sheet(cut_utf16(name, k_max_sheet_units - suffix.size())) + suffix;
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

    Result<void> finish_sheet() {
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
        switch (static_cast<CellStyle>(s)) {
        case CellStyle::text:
            break;
        case CellStyle::wrap:
            format_set_text_wrap(f);
            format_set_align(f, LXW_ALIGN_VERTICAL_TOP);
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
    for (std::uint16_t c = 0; c < columns.size(); ++c) {
        const XlsxColumn& column = columns[c];
        lxw_format* f = column.style == CellStyle::text ? nullptr : m_impl->format(column.style);
        if (auto e = worksheet_set_column(sheet, c, c, column.width, f); e != LXW_NO_ERROR) {
            return tl::unexpected(library_error(e, "column"));
        }
    }
    for (std::uint16_t c = 0; c < columns.size(); ++c) {
        std::string header(columns[c].header);
        if (auto e = worksheet_write_string(sheet, 0, c, header.c_str(), m_impl->header);
            e != LXW_NO_ERROR) {
            return tl::unexpected(library_error(e, "header"));
        }
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
    if (auto e =
            worksheet_write_string(m_impl->sheet, row, col, copy.c_str(), m_impl->format(style));
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
