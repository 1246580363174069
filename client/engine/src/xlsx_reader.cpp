#include "caravan/client/xlsx_reader.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <optional>
#include <cstdio>
#include <deque>
#include <unordered_map>

#include <expat.h>
#include <zip.h>

#include "caravan/client/messages.hpp"

namespace caravan::client {

namespace {

constexpr std::size_t k_chunk = 64 * 1024;

struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
    void operator()(zip_file_t* f) const { zip_fclose(f); }
};
struct ParserFree {
    void operator()(XML_Parser p) const { XML_ParserFree(p); }
};
using ZipHandle = std::unique_ptr<zip_t, ZipCloser>;
using ZipFileHandle = std::unique_ptr<zip_file_t, ZipFileCloser>;
using ParserHandle = std::unique_ptr<std::remove_pointer_t<XML_Parser>, ParserFree>;

// The local part of an expat name "namespace|local" (or the name when it has no namespace).
std::string_view local(const XML_Char* name) {
    std::string_view n(name);
    std::size_t bar = n.rfind('|');
    if (bar != std::string_view::npos) {
        n.remove_prefix(bar + 1);
    }
    std::size_t colon = n.rfind(':'); // a prefix expat did not resolve
    if (colon != std::string_view::npos) {
        n.remove_prefix(colon + 1);
    }
    return n;
}

const XML_Char* attribute(const XML_Char** atts, std::string_view name) {
    for (int i = 0; atts[i]; i += 2) {
        if (local(atts[i]) == name) {
            return atts[i + 1];
        }
    }
    return nullptr;
}

// A part name as messages show it: printable ASCII only, at most 80 characters.
std::string shown(std::string_view part) {
    std::string out;
    for (char c : part.substr(0, 80)) {
        out.push_back(c > 0x20 && c < 0x7f ? c : '?');
    }
    return out;
}

// "A1" -> column 0, row 1; false when `ref` is not a cell reference.
bool parse_ref(std::string_view ref, std::uint32_t& column, std::int64_t& row) {
    std::size_t i = 0;
    std::uint64_t c = 0;
    while (i < ref.size() && ref[i] >= 'A' && ref[i] <= 'Z' && i < 4) {
        c = c * 26 + static_cast<std::uint64_t>(ref[i] - 'A' + 1);
        ++i;
    }
    if (i == 0 || i == ref.size() || i > 3) {
        return false;
    }
    std::int64_t r = 0;
    for (; i < ref.size(); ++i) {
        if (ref[i] < '0' || ref[i] > '9' || r > 10'000'000) {
            return false;
        }
        r = r * 10 + (ref[i] - '0');
    }
    if (r < 1) {
        return false;
    }
    column = static_cast<std::uint32_t>(c - 1);
    row = r;
    return true;
}

// A number as a cell's text: whole numbers without a decimal point.
std::string spell_number(std::string_view v) {
    std::string s(v);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !std::isfinite(d)) {
        return s;
    }
    if (d == std::floor(d) && std::fabs(d) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.0f", d);
        return buf;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.15g", d);
    return buf;
}

} // namespace

struct XlsxReader::Impl {
    std::string display;
    XlsxLimits limits;
    ZipHandle zip;
    std::uint64_t total_read = 0;
    std::vector<std::string> names;
    std::vector<std::string> parts; // the sheets' parts, like names
    std::vector<std::string> shared;

    // The sheet being read.
    std::string part;
    ZipFileHandle file;
    ParserHandle parser;
    bool done = true;
    std::deque<XlsxRow> ready;
    std::optional<Error> failure;
    // Cell state while parsing a sheet.
    XlsxRow row;
    bool in_row = false;
    std::int64_t last_row = 0;
    std::uint32_t next_column = 0;
    std::uint32_t column = 0;
    std::string type;
    bool in_value = false, in_inline = false, in_text = false, in_phonetic = false;
    bool cell_has_value = false;
    std::string value;

    Error error(const Message& m) const {
        // i18n-forwards: `m` is one of msg::xlsx_read_*
        return make_error(ErrorCode::invalid_input, m, display);
    }
    template <class... Args> Error error(const Message& m, Args&&... args) const {
        // i18n-forwards: `m` is one of msg::xlsx_read_*
        return make_error(ErrorCode::invalid_input, m, display, std::forward<Args>(args)...);
    }

    // Opens a part after checking its declared size; nullopt/Error when missing or too large.
    Result<ZipFileHandle> open_part(const std::string& name, bool& missing) {
        missing = false;
        zip_int64_t index = zip_name_locate(zip.get(), name.c_str(), 0);
        if (index < 0) {
            missing = true;
            return ZipFileHandle{};
        }
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(index), 0, &st) != 0 ||
            !(st.valid & ZIP_STAT_SIZE)) {
            return tl::unexpected(error(msg::xlsx_read_damaged_part, shown(name)));
        }
        if (st.size > limits.max_part_bytes) {
            return tl::unexpected(error(msg::xlsx_read_part_too_large, shown(name),
                                        static_cast<std::uint64_t>(st.size),
                                        limits.max_part_bytes));
        }
        if (total_read + st.size > limits.max_total_bytes) {
            return tl::unexpected(error(msg::xlsx_read_total_too_large, limits.max_total_bytes));
        }
        zip_file_t* f = zip_fopen_index(zip.get(), static_cast<zip_uint64_t>(index), 0);
        if (!f) {
            return tl::unexpected(error(msg::xlsx_read_damaged_part, shown(name)));
        }
        return ZipFileHandle(f);
    }

    // Reads up to k_chunk bytes; counts them against the total.
    Result<std::size_t> read_chunk(zip_file_t* f, const std::string& name, char* buf) {
        zip_int64_t n = zip_fread(f, buf, k_chunk);
        if (n < 0) {
            return tl::unexpected(error(msg::xlsx_read_damaged_part, shown(name)));
        }
        total_read += static_cast<std::uint64_t>(n);
        if (total_read > limits.max_total_bytes) {
            return tl::unexpected(error(msg::xlsx_read_total_too_large, limits.max_total_bytes));
        }
        return static_cast<std::size_t>(n);
    }

    static ParserHandle make_parser(void* user) {
        ParserHandle p(XML_ParserCreateNS(nullptr, '|'));
        if (p) {
            XML_SetUserData(p.get(), user);
        }
        return p;
    }

    // Parses a whole (small) part with the handlers already set on `p`.
    Result<void> parse_part(const std::string& name, XML_Parser p, bool& missing,
                            std::optional<Error>& handler_failure) {
        auto f = open_part(name, missing);
        if (!f) {
            return tl::unexpected(f.error());
        }
        if (missing) {
            return {};
        }
        std::vector<char> buf(k_chunk);
        for (;;) {
            auto n = read_chunk(f->get(), name, buf.data());
            if (!n) {
                return tl::unexpected(n.error());
            }
            bool last = *n == 0;
            if (XML_Parse(p, buf.data(), static_cast<int>(*n), last) == XML_STATUS_ERROR) {
                if (handler_failure) {
                    return tl::unexpected(*handler_failure);
                }
                return tl::unexpected(error(msg::xlsx_read_bad_xml, shown(name),
                                            static_cast<std::int64_t>(
                                                XML_GetCurrentLineNumber(p))));
            }
            if (last) {
                return {};
            }
        }
    }

    Result<void> load_workbook();
    Result<void> load_shared_strings(const std::string& name);
    Result<void> start_sheet(std::size_t index);
    Result<bool> next(XlsxRow& out);

    // Sheet handlers.
    void start_element(std::string_view name, const XML_Char** atts);
    void end_element(std::string_view name);
    void text(std::string_view s);
    void stop(Error e) {
        if (!failure) {
            failure = std::move(e);
        }
        XML_StopParser(parser.get(), XML_FALSE);
    }
};

namespace {

// Handlers for the small parts: workbook.xml, its relationships and sharedStrings.xml.
struct SmallPart {
    XlsxReader::Impl* impl = nullptr;
    XML_Parser parser = nullptr;
    std::optional<Error> failure;
    std::string part;
    // workbook.xml
    std::vector<std::pair<std::string, std::string>> sheets; // name, relationship id
    // workbook.xml.rels
    std::unordered_map<std::string, std::string> targets;
    std::string shared_target;
    // sharedStrings.xml
    std::vector<std::string>* shared = nullptr;
    std::uint64_t max_shared = 0;
    bool in_si = false, in_t = false, in_phonetic = false;
    std::string current;
};

} // namespace

namespace {

void XMLCALL refuse_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    auto* sp = static_cast<SmallPart*>(user);
    if (!sp->failure) {
        sp->failure =
            make_error(ErrorCode::invalid_input, msg::xlsx_read_doctype,
                       sp->impl->display, shown(sp->part));
    }
    XML_StopParser(sp->parser, XML_FALSE);
}

void XMLCALL workbook_start(void* user, const XML_Char* name, const XML_Char** atts) {
    auto* sp = static_cast<SmallPart*>(user);
    std::string_view n = local(name);
    if (n == "sheet") {
        const XML_Char* sheet_name = attribute(atts, "name");
        const XML_Char* id = attribute(atts, "id");
        sp->sheets.emplace_back(sheet_name ? sheet_name : "", id ? id : "");
    } else if (n == "Relationship") {
        const XML_Char* id = attribute(atts, "Id");
        const XML_Char* target = attribute(atts, "Target");
        const XML_Char* type = attribute(atts, "Type");
        if (id && target) {
            sp->targets[id] = target;
        }
        if (target && type && std::string_view(type).ends_with("/sharedStrings")) {
            sp->shared_target = target;
        }
    }
}

void XMLCALL ignore_end(void*, const XML_Char*) {}

void XMLCALL shared_start(void* user, const XML_Char* name, const XML_Char**) {
    auto* sp = static_cast<SmallPart*>(user);
    std::string_view n = local(name);
    if (n == "si") {
        sp->in_si = true;
        sp->current.clear();
    } else if (n == "rPh") {
        sp->in_phonetic = true;
    } else if (n == "t" && sp->in_si && !sp->in_phonetic) {
        sp->in_t = true;
    }
}

void XMLCALL shared_end(void* user, const XML_Char* name) {
    auto* sp = static_cast<SmallPart*>(user);
    std::string_view n = local(name);
    if (n == "si") {
        sp->in_si = false;
        if (sp->shared->size() >= sp->max_shared) {
            if (!sp->failure) {
                sp->failure = make_error(ErrorCode::invalid_input, msg::xlsx_read_too_many_strings,
                                         sp->impl->display, sp->max_shared);
            }
            XML_StopParser(sp->parser, XML_FALSE);
            return;
        }
        sp->shared->push_back(std::move(sp->current));
        sp->current.clear();
    } else if (n == "rPh") {
        sp->in_phonetic = false;
    } else if (n == "t") {
        sp->in_t = false;
    }
}

void XMLCALL shared_text(void* user, const XML_Char* s, int len) {
    auto* sp = static_cast<SmallPart*>(user);
    if (sp->in_t) {
        sp->current.append(s, static_cast<std::size_t>(len));
    }
}

// "worksheets/sheet1.xml" relative to xl/, or "/xl/worksheets/sheet1.xml".
std::string resolve_target(std::string_view target) {
    if (target.starts_with("/")) {
        return std::string(target.substr(1));
    }
    std::string out = "xl/";
    while (target.starts_with("../")) {
        target.remove_prefix(3);
        out.clear();
    }
    return out + std::string(target);
}

} // namespace

Result<void> XlsxReader::Impl::load_workbook() {
    SmallPart rels;
    rels.impl = this;
    rels.part = "xl/_rels/workbook.xml.rels";
    {
        ParserHandle p(XML_ParserCreateNS(nullptr, '|'));
        rels.parser = p.get();
        XML_SetUserData(p.get(), &rels);
        XML_SetElementHandler(p.get(), workbook_start, ignore_end);
        XML_SetStartDoctypeDeclHandler(p.get(), refuse_doctype);
        bool missing = false;
        if (auto ok = parse_part(rels.part, p.get(), missing, rels.failure); !ok) {
            return ok;
        }
        if (missing) {
            return tl::unexpected(error(msg::xlsx_read_missing_part, rels.part));
        }
    }
    SmallPart book;
    book.impl = this;
    book.part = "xl/workbook.xml";
    {
        ParserHandle p(XML_ParserCreateNS(nullptr, '|'));
        book.parser = p.get();
        XML_SetUserData(p.get(), &book);
        XML_SetElementHandler(p.get(), workbook_start, ignore_end);
        XML_SetStartDoctypeDeclHandler(p.get(), refuse_doctype);
        bool missing = false;
        if (auto ok = parse_part(book.part, p.get(), missing, book.failure); !ok) {
            return ok;
        }
        if (missing) {
            return tl::unexpected(error(msg::xlsx_read_missing_part, book.part));
        }
    }
    for (const auto& [name, id] : book.sheets) {
        auto it = rels.targets.find(id);
        if (it == rels.targets.end()) {
            continue;
        }
        std::string target = resolve_target(it->second);
        if (target.find("worksheets/") == std::string::npos) {
            continue; // a chart sheet or a dialog sheet
        }
        names.push_back(name);
        parts.push_back(target);
    }
    if (names.empty()) {
        return tl::unexpected(error(msg::xlsx_read_no_sheet));
    }
    std::string shared_part =
        rels.shared_target.empty() ? "xl/sharedStrings.xml" : resolve_target(rels.shared_target);
    return load_shared_strings(shared_part);
}

Result<void> XlsxReader::Impl::load_shared_strings(const std::string& name) {
    SmallPart sp;
    sp.impl = this;
    sp.part = name;
    sp.shared = &shared;
    sp.max_shared = limits.max_shared_strings;
    ParserHandle p(XML_ParserCreateNS(nullptr, '|'));
    sp.parser = p.get();
    XML_SetUserData(p.get(), &sp);
    XML_SetElementHandler(p.get(), shared_start, shared_end);
    XML_SetCharacterDataHandler(p.get(), shared_text);
    XML_SetStartDoctypeDeclHandler(p.get(), refuse_doctype);
    bool missing = false;
    return parse_part(name, p.get(), missing, sp.failure); // no shared strings is fine
}

void XlsxReader::Impl::start_element(std::string_view name, const XML_Char** atts) {
    if (name == "row") {
        in_row = true;
        row.cells.clear();
        const XML_Char* r = attribute(atts, "r");
        std::int64_t number = last_row + 1;
        if (r) {
            std::string_view rs(r);
            number = 0;
            for (char c : rs) {
                if (c < '0' || c > '9' || number > 10'000'000) {
                    stop(error(msg::xlsx_read_bad_cell, shown(part), last_row + 1));
                    return;
                }
                number = number * 10 + (c - '0');
            }
        }
        if (number <= last_row) {
            stop(error(msg::xlsx_read_bad_cell, shown(part), last_row + 1));
            return;
        }
        row.number = number;
        last_row = number;
        next_column = 0;
    } else if (name == "c" && in_row) {
        const XML_Char* r = attribute(atts, "r");
        const XML_Char* t = attribute(atts, "t");
        column = next_column;
        if (r) {
            std::int64_t ref_row = 0;
            if (!parse_ref(r, column, ref_row) || ref_row != row.number) {
                stop(error(msg::xlsx_read_bad_cell, shown(part), row.number));
                return;
            }
        }
        next_column = column + 1;
        type = t ? t : "n";
        value.clear();
        cell_has_value = false;
    } else if (name == "v") {
        in_value = true;
        cell_has_value = true;
    } else if (name == "is") {
        in_inline = true;
        cell_has_value = true;
    } else if (name == "rPh") {
        in_phonetic = true;
    } else if (name == "t" && in_inline && !in_phonetic) {
        in_text = true;
    }
}

void XlsxReader::Impl::end_element(std::string_view name) {
    if (name == "v") {
        in_value = false;
    } else if (name == "is") {
        in_inline = false;
    } else if (name == "rPh") {
        in_phonetic = false;
    } else if (name == "t") {
        in_text = false;
    } else if (name == "c" && in_row) {
        if (!cell_has_value) {
            return;
        }
        XlsxCell cell;
        if (type == "s") {
            char* end = nullptr;
            unsigned long long index = std::strtoull(value.c_str(), &end, 10);
            if (value.empty() || *end != '\0' || index >= shared.size()) {
                stop(error(msg::xlsx_read_bad_cell, shown(part), row.number));
                return;
            }
            cell.text = shared[index];
        } else if (type == "n") {
            cell.text = spell_number(value);
            cell.number = !value.empty();
        } else if (type == "b") {
            cell.text = value == "1" ? "true" : value == "0" ? "false" : value;
        } else {
            cell.text = std::move(value); // inlineStr, str (a formula's text), e (an error)
        }
        value.clear();
        if (cell.text.empty()) {
            return;
        }
        if (column >= limits.max_columns) {
            stop(error(msg::xlsx_read_too_wide, row.number, limits.max_columns));
            return;
        }
        if (row.cells.size() <= column) {
            row.cells.resize(column + 1);
        }
        row.cells[column] = std::move(cell);
    } else if (name == "row") {
        in_row = false;
        if (!row.cells.empty()) {
            ready.push_back(std::move(row));
            row = XlsxRow{};
        }
    }
}

void XlsxReader::Impl::text(std::string_view s) {
    if (in_value || in_text) {
        if (value.size() + s.size() > 4 * 32767 + 64) { // longer than any cell Excel holds
            stop(error(msg::xlsx_read_bad_cell, shown(part), row.number));
            return;
        }
        value.append(s);
    }
}

namespace {

void XMLCALL sheet_start(void* user, const XML_Char* name, const XML_Char** atts) {
    static_cast<XlsxReader::Impl*>(user)->start_element(local(name), atts);
}
void XMLCALL sheet_end(void* user, const XML_Char* name) {
    static_cast<XlsxReader::Impl*>(user)->end_element(local(name));
}
void XMLCALL sheet_text(void* user, const XML_Char* s, int len) {
    static_cast<XlsxReader::Impl*>(user)->text(std::string_view(s, static_cast<std::size_t>(len)));
}
void XMLCALL sheet_doctype(void* user, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    auto* impl = static_cast<XlsxReader::Impl*>(user);
    impl->stop(impl->error(msg::xlsx_read_doctype, shown(impl->part)));
}

} // namespace

Result<void> XlsxReader::Impl::start_sheet(std::size_t index) {
    file.reset();
    parser.reset();
    ready.clear();
    failure.reset();
    row = XlsxRow{};
    in_row = in_value = in_inline = in_text = in_phonetic = false;
    last_row = 0;
    done = true;
    if (index >= parts.size()) {
        return tl::unexpected(error(msg::xlsx_read_no_sheet));
    }
    part = parts[index];
    bool missing = false;
    auto f = open_part(part, missing);
    if (!f) {
        return tl::unexpected(f.error());
    }
    if (missing) {
        return tl::unexpected(error(msg::xlsx_read_missing_part, shown(part)));
    }
    file = std::move(*f);
    parser.reset(XML_ParserCreateNS(nullptr, '|'));
    if (!parser) {
        return fail(ErrorCode::internal, "xlsx: out of memory"); // i18n-exempt: allocation
    }
    XML_SetUserData(parser.get(), this);
    XML_SetElementHandler(parser.get(), sheet_start, sheet_end);
    XML_SetCharacterDataHandler(parser.get(), sheet_text);
    XML_SetStartDoctypeDeclHandler(parser.get(), sheet_doctype);
    done = false;
    return {};
}

Result<bool> XlsxReader::Impl::next(XlsxRow& out) {
    std::vector<char> buf;
    while (ready.empty() && !done) {
        if (buf.empty()) {
            buf.resize(k_chunk);
        }
        auto n = read_chunk(file.get(), part, buf.data());
        if (!n) {
            done = true;
            return tl::unexpected(n.error());
        }
        bool last = *n == 0;
        if (XML_Parse(parser.get(), buf.data(), static_cast<int>(*n), last) == XML_STATUS_ERROR) {
            done = true;
            if (failure) {
                return tl::unexpected(*failure);
            }
            return tl::unexpected(
                error(msg::xlsx_read_bad_xml, shown(part),
                      static_cast<std::int64_t>(XML_GetCurrentLineNumber(parser.get()))));
        }
        if (last) {
            done = true;
            file.reset();
            parser.reset();
        }
    }
    if (ready.empty()) {
        return false;
    }
    out = std::move(ready.front());
    ready.pop_front();
    return true;
}

XlsxReader::XlsxReader(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
XlsxReader::XlsxReader(XlsxReader&&) noexcept = default;
XlsxReader& XlsxReader::operator=(XlsxReader&&) noexcept = default;
XlsxReader::~XlsxReader() = default;

namespace {

Result<void> finish_open(std::unique_ptr<XlsxReader::Impl>& impl, zip_source_t* source) {
    zip_error_t err;
    zip_error_init(&err);
    zip_t* z = zip_open_from_source(source, ZIP_RDONLY, &err);
    zip_error_fini(&err);
    if (!z) {
        zip_source_free(source);
        return tl::unexpected(impl->error(msg::xlsx_read_not_zip));
    }
    impl->zip.reset(z);
    zip_int64_t entries = zip_get_num_entries(z, 0);
    if (entries < 0 || static_cast<std::uint64_t>(entries) > impl->limits.max_entries) {
        return tl::unexpected(impl->error(msg::xlsx_read_too_many_entries,
                                          static_cast<std::int64_t>(entries),
                                          impl->limits.max_entries));
    }
    return impl->load_workbook();
}

} // namespace

Result<XlsxReader> XlsxReader::open(const std::filesystem::path& file, const XlsxLimits& limits) {
    auto impl = std::make_unique<Impl>();
    impl->display = file.string();
    impl->limits = limits;
    FILE* probe = std::fopen(file.c_str(), "rb");
    if (!probe) {
        std::error_code ec;
        return fail(std::filesystem::exists(file, ec) ? ErrorCode::io : ErrorCode::not_found,
                    msg::cannot_open_file, file.string(), std::strerror(errno));
    }
    std::fclose(probe);
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* source = zip_source_file_create(file.c_str(), 0, -1, &err);
    zip_error_fini(&err);
    if (!source) {
        return fail(ErrorCode::io, msg::reading_failed, file.string());
    }
    if (auto ok = finish_open(impl, source); !ok) {
        return tl::unexpected(ok.error());
    }
    return XlsxReader(std::move(impl));
}

Result<XlsxReader> XlsxReader::open_memory(std::string_view bytes, std::string display_name,
                                           const XlsxLimits& limits) {
    auto impl = std::make_unique<Impl>();
    impl->display = std::move(display_name);
    impl->limits = limits;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &err);
    zip_error_fini(&err);
    if (!source) {
        return fail(ErrorCode::internal, "xlsx: out of memory"); // i18n-exempt: allocation
    }
    if (auto ok = finish_open(impl, source); !ok) {
        return tl::unexpected(ok.error());
    }
    return XlsxReader(std::move(impl));
}

const std::vector<std::string>& XlsxReader::sheet_names() const {
    return m_impl->names;
}

Result<void> XlsxReader::select_sheet(std::size_t index) {
    return m_impl->start_sheet(index);
}

Result<bool> XlsxReader::next_row(XlsxRow& row) {
    return m_impl->next(row);
}

std::string excel_serial_to_date(double serial) {
    if (!std::isfinite(serial) || serial != std::floor(serial) || serial < 1 ||
        serial > 2958465) {
        return {};
    }
    auto days = static_cast<std::int64_t>(serial);
    if (days == 60) {
        return {}; // 1900-02-29 does not exist
    }
    if (days > 60) {
        --days; // Excel counts the phantom 1900-02-29
    }
    // Days since 1899-12-31 -> civil date (Howard Hinnant's algorithm from 1970-01-01).
    std::int64_t z = days - 25568 + 719468; // serial 1 = 1900-01-01 = Unix day -25567
    std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    std::int64_t doe = z - era * 146097;
    std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    std::int64_t y = yoe + era * 400;
    std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    std::int64_t mp = (5 * doy + 2) / 153;
    std::int64_t d = doy - (153 * mp + 2) / 5 + 1;
    std::int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", static_cast<long long>(y),
                  static_cast<long long>(m), static_cast<long long>(d));
    return buf;
}

} // namespace caravan::client
