#include "caravan/storage/recovery.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <variant>

#include "caravan/storage/messages.hpp"

namespace caravan::storage {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

// Page types (file format, section 1.6).
constexpr std::uint8_t k_index_interior = 0x02;
constexpr std::uint8_t k_table_interior = 0x05;
constexpr std::uint8_t k_index_leaf = 0x0a;
constexpr std::uint8_t k_table_leaf = 0x0d;

// Reads a big-endian unsigned integer of `n` bytes.
std::uint64_t read_be(const std::uint8_t* p, int n) {
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) {
        v = (v << 8) | p[i];
    }
    return v;
}

// A SQLite varint at [p, end): its value and length, or length 0 when it runs past `end`.
std::pair<std::uint64_t, int> read_varint(const std::uint8_t* p, const std::uint8_t* end) {
    std::uint64_t v = 0;
    for (int i = 0; i < 9; ++i) {
        if (p + i >= end) {
            return {0, 0};
        }
        if (i == 8) {
            return {(v << 8) | p[i], 9};
        }
        v = (v << 7) | (p[i] & 0x7f);
        if ((p[i] & 0x80) == 0) {
            return {v, i + 1};
        }
    }
    return {0, 0};
}

struct Null {};
using Value = std::variant<Null, std::int64_t, double, std::string, Bytes>;

// The columns of a record (file format, section 2.1). Stops at the first column that does not
// fit in `payload`; nullopt when the header itself does not parse.
std::optional<std::vector<Value>> decode_record(const Bytes& payload) {
    const std::uint8_t* begin = payload.data();
    const std::uint8_t* end = begin + payload.size();
    auto [header_size, n] = read_varint(begin, end);
    if (n == 0 || header_size < static_cast<std::uint64_t>(n) || header_size > payload.size()) {
        return std::nullopt;
    }
    std::vector<std::uint64_t> types;
    const std::uint8_t* p = begin + n;
    const std::uint8_t* header_end = begin + header_size;
    while (p < header_end) {
        auto [type, len] = read_varint(p, header_end);
        if (len == 0 || type == 10 || type == 11) {
            return std::nullopt;
        }
        types.push_back(type);
        p += len;
    }
    std::vector<Value> values;
    const std::uint8_t* body = header_end;
    for (std::uint64_t type : types) {
        static constexpr int k_int_sizes[] = {0, 1, 2, 3, 4, 6, 8};
        std::uint64_t size = 0;
        if (type >= 1 && type <= 6) {
            size = static_cast<std::uint64_t>(k_int_sizes[type]);
        } else if (type == 7) {
            size = 8;
        } else if (type >= 12) {
            size = (type - 12) / 2;
        }
        if (size > static_cast<std::uint64_t>(end - body)) {
            break; // the rest is not here (a broken overflow chain)
        }
        if (type == 0) {
            values.emplace_back(Null{});
        } else if (type <= 6) {
            int bytes = k_int_sizes[type];
            std::uint64_t raw = read_be(body, bytes);
            // Sign-extend from `bytes` bytes.
            if (bytes < 8 && (raw >> (bytes * 8 - 1)) & 1) {
                raw |= ~std::uint64_t(0) << (bytes * 8);
            }
            values.emplace_back(static_cast<std::int64_t>(raw));
        } else if (type == 7) {
            std::uint64_t raw = read_be(body, 8);
            double d = 0;
            std::memcpy(&d, &raw, sizeof d);
            values.emplace_back(d);
        } else if (type == 8 || type == 9) {
            values.emplace_back(static_cast<std::int64_t>(type - 8));
        } else if (type % 2 == 1) {
            values.emplace_back(std::string(reinterpret_cast<const char*>(body), size));
        } else {
            values.emplace_back(Bytes(body, body + size));
        }
        body += size;
    }
    return values;
}

const std::string* text(const std::vector<Value>& v, std::size_t i) {
    return i < v.size() ? std::get_if<std::string>(&v[i]) : nullptr;
}
const std::int64_t* integer(const std::vector<Value>& v, std::size_t i) {
    return i < v.size() ? std::get_if<std::int64_t>(&v[i]) : nullptr;
}

// The database file, page by page. Page numbers are 1-based, as SQLite's.
class PageFile {
  public:
    static Result<PageFile> open(const fs::path& path) {
        PageFile file;
        file.m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (file.m_fd < 0) {
            return fail(ErrorCode::io, msg::cannot_read_database, path.string(),
                        std::generic_category().message(errno));
        }
        std::uint8_t header[100] = {};
        std::int64_t size = ::lseek(file.m_fd, 0, SEEK_END);
        // The page size and reserved bytes from the header, when it is sane; else the default.
        if (::pread(file.m_fd, header, sizeof header, 0) == sizeof header &&
            std::memcmp(header, "SQLite format 3", 16) == 0) {
            std::uint32_t page_size = static_cast<std::uint32_t>(read_be(header + 16, 2));
            if (page_size == 1) {
                page_size = 65536;
            }
            if (page_size >= 512 && page_size <= 65536 && (page_size & (page_size - 1)) == 0 &&
                header[20] < page_size / 2) {
                file.m_page_size = page_size;
                file.m_usable = page_size - header[20];
            }
        }
        file.m_pages = size > 0 ? size / file.m_page_size : 0;
        return file;
    }
    PageFile(PageFile&& other) noexcept
        : m_fd(std::exchange(other.m_fd, -1)), m_page_size(other.m_page_size),
          m_usable(other.m_usable), m_pages(other.m_pages) {}
    PageFile& operator=(PageFile&&) = delete;
    ~PageFile() {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }

    [[nodiscard]] std::int64_t pages() const { return m_pages; }
    [[nodiscard]] std::uint32_t usable() const { return m_usable; }
    [[nodiscard]] bool valid(std::uint64_t page) const {
        return page >= 1 && page <= static_cast<std::uint64_t>(m_pages);
    }
    // Reads page `page` into `out`; false when it cannot be read.
    bool read(std::uint64_t page, Bytes& out) const {
        if (!valid(page)) {
            return false;
        }
        out.resize(m_page_size);
        auto got =
            ::pread(m_fd, out.data(), m_page_size, static_cast<off_t>((page - 1) * m_page_size));
        return got == static_cast<ssize_t>(m_page_size);
    }

  private:
    PageFile() = default;
    int m_fd = -1;
    std::uint32_t m_page_size = 4096;
    std::uint32_t m_usable = 4096;
    std::int64_t m_pages = 0;
};

// One b-tree page, checked enough that reading its cells stays inside it.
struct BtreePage {
    std::uint8_t type = 0;
    std::vector<std::uint32_t> cells; // offsets of the cells in the page
    std::uint32_t right_child = 0;    // interior pages
};

std::optional<BtreePage> parse_page(const Bytes& data, std::uint64_t page_no,
                                    std::uint32_t usable) {
    const std::uint32_t start = page_no == 1 ? 100 : 0;
    if (data.size() < start + 12 || usable > data.size()) {
        return std::nullopt;
    }
    BtreePage page;
    page.type = data[start];
    if (page.type != k_index_interior && page.type != k_table_interior &&
        page.type != k_index_leaf && page.type != k_table_leaf) {
        return std::nullopt;
    }
    const bool interior = page.type == k_index_interior || page.type == k_table_interior;
    const std::uint32_t header = start + (interior ? 12 : 8);
    const auto count = static_cast<std::uint32_t>(read_be(&data[start + 3], 2));
    if (header + 2 * count > usable) {
        return std::nullopt;
    }
    if (interior) {
        page.right_child = static_cast<std::uint32_t>(read_be(&data[start + 8], 4));
    }
    for (std::uint32_t i = 0; i < count; ++i) {
        auto offset = static_cast<std::uint32_t>(read_be(&data[header + 2 * i], 2));
        if (offset < header + 2 * count || offset >= usable) {
            return std::nullopt;
        }
        page.cells.push_back(offset);
    }
    return page;
}

// A cell's payload: the local part and its overflow chain. `complete` is false when the chain
// is broken; `bytes` then holds what was read.
struct Payload {
    Bytes bytes;
    bool complete = false;
};

Payload read_payload(const PageFile& file, const Bytes& data, std::uint32_t at, std::uint64_t size,
                     bool table_leaf) {
    const std::uint64_t u = file.usable();
    const std::uint64_t max_local = table_leaf ? u - 35 : ((u - 12) * 64 / 255) - 23;
    const std::uint64_t min_local = ((u - 12) * 32 / 255) - 23;
    std::uint64_t local = size;
    if (size > max_local) {
        std::uint64_t k = min_local + ((size - min_local) % (u - 4));
        local = k <= max_local ? k : min_local;
    }
    Payload out;
    // A payload larger than the file is a damaged size field.
    if (at + local > u || size > static_cast<std::uint64_t>(file.pages()) * u) {
        return out;
    }
    out.bytes.assign(data.begin() + at, data.begin() + at + static_cast<std::ptrdiff_t>(local));
    if (local == size) {
        out.complete = true;
        return out;
    }
    if (at + local + 4 > u) {
        return out;
    }
    std::uint64_t next = read_be(data.data() + at + local, 4);
    Bytes page;
    // A chain never needs more pages than the payload fills; a longer one loops.
    for (std::uint64_t hops = 0; out.bytes.size() < size; ++hops) {
        if (hops > size / (u - 4) + 1 || !file.read(next, page)) {
            return out;
        }
        std::uint64_t take = std::min<std::uint64_t>(u - 4, size - out.bytes.size());
        out.bytes.insert(out.bytes.end(), page.begin() + 4,
                         page.begin() + 4 + static_cast<std::ptrdiff_t>(take));
        next = read_be(page.data(), 4);
    }
    out.complete = true;
    return out;
}

// The rows of a table leaf page: rowid and payload.
struct Row {
    std::int64_t rowid = 0;
    Payload payload;
};

std::vector<Row> table_rows(const PageFile& file, const Bytes& data, const BtreePage& page) {
    std::vector<Row> rows;
    const std::uint8_t* end = data.data() + file.usable();
    for (std::uint32_t at : page.cells) {
        auto [size, n1] = read_varint(data.data() + at, end);
        if (n1 == 0) {
            continue;
        }
        auto [rowid, n2] = read_varint(data.data() + at + n1, end);
        if (n2 == 0 || size > (std::uint64_t(1) << 31)) {
            continue;
        }
        Row row;
        row.rowid = static_cast<std::int64_t>(rowid);
        row.payload = read_payload(file, data, at + n1 + n2, size, true);
        rows.push_back(std::move(row));
    }
    return rows;
}

// The keys of an index page (leaf or interior).
std::vector<Payload> index_keys(const PageFile& file, const Bytes& data, const BtreePage& page) {
    std::vector<Payload> keys;
    const std::uint8_t* end = data.data() + file.usable();
    const std::uint32_t skip = page.type == k_index_interior ? 4 : 0; // left child pointer
    for (std::uint32_t at : page.cells) {
        if (at + skip >= file.usable()) {
            continue;
        }
        auto [size, n] = read_varint(data.data() + at + skip, end);
        if (n == 0 || size > (std::uint64_t(1) << 31)) {
            continue;
        }
        keys.push_back(read_payload(file, data, at + skip + n, size, false));
    }
    return keys;
}

// Visits every page of the tree rooted at `root` that parses; false when some page of the tree
// did not (the visit then covers what was reachable).
template <class Visit>
bool walk_tree(const PageFile& file, std::uint64_t root, bool index, Visit&& visit) {
    bool whole = true;
    std::set<std::uint64_t> seen;
    std::vector<std::uint64_t> stack = {root};
    Bytes data;
    while (!stack.empty()) {
        std::uint64_t page_no = stack.back();
        stack.pop_back();
        if (!seen.insert(page_no).second) {
            whole = false; // a cycle: damage
            continue;
        }
        auto page =
            file.read(page_no, data) ? parse_page(data, page_no, file.usable()) : std::nullopt;
        const bool expected =
            page && (index ? page->type == k_index_interior || page->type == k_index_leaf
                           : page->type == k_table_interior || page->type == k_table_leaf);
        if (!expected) {
            whole = false;
            continue;
        }
        if (page->type == k_index_interior || page->type == k_table_interior) {
            for (std::uint32_t at : page->cells) {
                if (at + 4 <= file.usable()) {
                    stack.push_back(read_be(&data[at], 4));
                }
            }
            stack.push_back(page->right_child);
        }
        visit(data, *page);
    }
    return whole;
}

// The shape of the event log's STRICT table: log_position (the rowid, stored as NULL),
// device_id, seq, hlc, entity_type, entity_id, op, payload, schema_version, server_seq.
std::optional<Event> as_event(const std::vector<Value>& v, std::int64_t rowid) {
    if (v.size() != 10 || !std::holds_alternative<Null>(v[0]) || !text(v, 1) || !integer(v, 2) ||
        !integer(v, 3) || !text(v, 4) || !text(v, 5) || !text(v, 6) || !text(v, 7) ||
        !integer(v, 8) || !(integer(v, 9) || std::holds_alternative<Null>(v[9])) ||
        text(v, 1)->empty() || *integer(v, 2) <= 0 || rowid <= 0) {
        return std::nullopt;
    }
    Event e;
    e.device_id = *text(v, 1);
    e.seq = *integer(v, 2);
    e.hlc = *integer(v, 3);
    e.entity_type = *text(v, 4);
    e.entity_id = *text(v, 5);
    e.op = *text(v, 6);
    e.payload = *text(v, 7);
    e.schema_version = static_cast<int>(*integer(v, 8));
    if (const auto* s = integer(v, 9)) {
        e.server_seq = *s;
    }
    e.log_position = rowid;
    return e;
}

// The key of an event row whose payload was cut short: the leading columns when present.
EventKey partial_key(const Payload& payload, std::int64_t rowid) {
    EventKey key;
    key.log_position = rowid;
    if (auto v = decode_record(payload.bytes);
        v && v->size() >= 3 && text(*v, 1) && integer(*v, 2)) {
        key.device_id = *text(*v, 1);
        key.seq = *integer(*v, 2);
    }
    return key;
}

// True when a cut-short row starts like an event row (its leading serial types).
bool looks_like_event(const Payload& payload) {
    const std::uint8_t* p = payload.bytes.data();
    const std::uint8_t* end = p + payload.bytes.size();
    auto [header_size, n] = read_varint(p, end);
    if (n == 0 || header_size < 11 || header_size > 100) {
        return false;
    }
    std::vector<std::uint64_t> types;
    const std::uint8_t* q = p + n;
    while (q < p + std::min<std::uint64_t>(header_size, payload.bytes.size()) &&
           types.size() < 11) {
        auto [type, len] = read_varint(q, end);
        if (len == 0) {
            return false;
        }
        types.push_back(type);
        q += len;
    }
    auto is_text = [](std::uint64_t t) { return t >= 13 && t % 2 == 1; };
    auto is_int = [](std::uint64_t t) { return (t >= 1 && t <= 6) || t == 8 || t == 9; };
    return types.size() == 10 && types[0] == 0 && is_text(types[1]) && is_int(types[2]) &&
           is_int(types[3]) && is_text(types[4]) && is_text(types[5]) && is_text(types[6]) &&
           is_text(types[7]) && is_int(types[8]) && (types[9] == 0 || is_int(types[9]));
}

// Copies `from` to `to` when `from` exists; false when it does not.
Result<bool> copy_if_present(const fs::path& from, const fs::path& to) {
    std::error_code ec;
    if (!fs::exists(from, ec)) {
        return false;
    }
    fs::copy_file(from, to, fs::copy_options::none, ec);
    if (ec) {
        return fail(ec == std::errc::no_space_on_device ? ErrorCode::storage_full : ErrorCode::io,
                    msg::cannot_create_file, to.string(), ec.message());
    }
    fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
    return true;
}

} // namespace

Result<Recovery> recover_event_log(const fs::path& damaged, const fs::path& scratch) {
    std::error_code ec;
    if (!fs::exists(damaged, ec)) {
        return fail(ErrorCode::not_found, msg::database_missing, damaged.string());
    }
    const fs::path scratch_wal = scratch.string() + "-wal";
    auto cleanup = [&] {
        std::error_code ignored;
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            fs::remove(scratch.string() + suffix, ignored);
        }
    };
    struct Cleanup {
        std::function<void()> run;
        ~Cleanup() { run(); }
    } on_exit{cleanup};

    Recovery out;
    if (auto copied = copy_if_present(damaged, scratch); !copied) {
        return tl::unexpected(copied.error());
    }
    auto wal = copy_if_present(damaged.string() + "-wal", scratch_wal);
    if (!wal) {
        return tl::unexpected(wal.error());
    }
    if (*wal) {
        // Fold the committed transactions of the copied WAL into the copy; when SQLite cannot
        // open the copy, only the main file is read.
        sqlite3* raw = nullptr;
        if (sqlite3_open_v2(scratch.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK) {
            int log = -1;
            int done = -1;
            out.wal_checkpointed =
                sqlite3_wal_checkpoint_v2(raw, "main", SQLITE_CHECKPOINT_TRUNCATE, &log, &done) ==
                    SQLITE_OK &&
                log == done;
        }
        sqlite3_close_v2(raw);
    }

    auto opened = PageFile::open(scratch);
    if (!opened) {
        return tl::unexpected(opened.error());
    }
    const PageFile& file = *opened;
    out.pages = file.pages();

    // One pass over every page: schema rows and event rows, wherever they are.
    std::uint64_t events_root = 0;
    std::uint64_t index_root = 0;
    std::uint64_t settings_root = 0;
    std::map<std::int64_t, std::vector<Event>> by_position;
    Bytes data;
    for (std::int64_t page_no = 1; page_no <= file.pages(); ++page_no) {
        auto page = file.read(static_cast<std::uint64_t>(page_no), data)
                        ? parse_page(data, static_cast<std::uint64_t>(page_no), file.usable())
                        : std::nullopt;
        if (!page) {
            ++out.pages_skipped;
            continue;
        }
        if (page->type != k_table_leaf) {
            continue;
        }
        for (Row& row : table_rows(file, data, *page)) {
            if (!row.payload.complete) {
                if (looks_like_event(row.payload)) {
                    out.unreadable.push_back(partial_key(row.payload, row.rowid));
                }
                continue;
            }
            auto values = decode_record(row.payload.bytes);
            if (!values) {
                continue;
            }
            if (auto event = as_event(*values, row.rowid)) {
                by_position[row.rowid].push_back(std::move(*event));
                continue;
            }
            // sqlite_schema: type, name, tbl_name, rootpage, sql.
            if (values->size() == 5 && text(*values, 0) && text(*values, 1) &&
                integer(*values, 3) && *integer(*values, 3) > 0) {
                const std::string& type = *text(*values, 0);
                const std::string& name = *text(*values, 1);
                auto root = static_cast<std::uint64_t>(*integer(*values, 3));
                if (type == "table" && name == "events") {
                    events_root = root;
                } else if (type == "index" && name == "sqlite_autoindex_events_1") {
                    index_root = root;
                } else if (type == "table" && name == "settings") {
                    settings_root = root;
                }
            }
        }
    }
    out.schema_found = events_root != 0;

    // The (device_id, seq) index: which events existed, readable rows or not.
    if (index_root != 0) {
        walk_tree(file, index_root, true, [&](const Bytes& page_data, const BtreePage& page) {
            for (const Payload& key : index_keys(file, page_data, page)) {
                auto v = key.complete ? decode_record(key.bytes) : std::nullopt;
                if (v && v->size() == 3 && text(*v, 0) && integer(*v, 1) && integer(*v, 2)) {
                    out.index_keys.push_back({*text(*v, 0), *integer(*v, 1), *integer(*v, 2)});
                }
            }
        });
    }
    std::map<std::pair<std::string, std::int64_t>, std::int64_t> indexed;
    for (const EventKey& k : out.index_keys) {
        indexed[{k.device_id, k.seq}] = k.log_position;
    }

    // One row per (device_id, seq): of several copies (a stale page), the one the index points
    // at, else the first met.
    std::map<std::pair<std::string, std::int64_t>, Event> chosen;
    for (auto& [position, events] : by_position) {
        for (Event& e : events) {
            auto key = std::make_pair(e.device_id, e.seq);
            auto found = chosen.find(key);
            if (found == chosen.end()) {
                chosen.emplace(key, std::move(e));
            } else if (auto at = indexed.find(key);
                       at != indexed.end() && at->second == e.log_position) {
                found->second = std::move(e);
            }
        }
    }
    for (auto& [key, e] : chosen) {
        out.events.push_back(std::move(e));
    }
    std::sort(out.events.begin(), out.events.end(),
              [](const Event& a, const Event& b) { return a.log_position < b.log_position; });

    if (settings_root != 0) {
        out.settings_complete = walk_tree(
            file, settings_root, false, [&](const Bytes& page_data, const BtreePage& page) {
                if (page.type != k_table_leaf) {
                    return;
                }
                for (Row& row : table_rows(file, page_data, page)) {
                    auto v = row.payload.complete ? decode_record(row.payload.bytes) : std::nullopt;
                    if (v && v->size() == 2 && text(*v, 0) && text(*v, 1)) {
                        out.settings.emplace_back(*text(*v, 0), *text(*v, 1));
                    }
                }
            });
    }
    return out;
}

} // namespace caravan::storage
