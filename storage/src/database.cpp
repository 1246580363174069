#include "caravan/storage/database.hpp"

#include <fcntl.h>
#include <malloc.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>

#include "caravan/storage/messages.hpp"

namespace caravan::storage {

Error sqlite_error(int rc, std::string_view what, sqlite3* db) {
    std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    // A full disk shows as SQLITE_FULL when SQLite notices it, but as an I/O error when a write
    // of the journal or the shared-memory file fails first: the system error tells.
    if (int sys = db ? sqlite3_system_errno(db) : 0;
        (sys == ENOSPC || sys == EDQUOT) &&
        ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN)) {
        rc = SQLITE_FULL;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return make_error(ErrorCode::busy, msg::database_locked, what);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return make_error(ErrorCode::corrupt, msg::sqlite_failed, what, detail);
    case SQLITE_FULL:
        return make_error(ErrorCode::storage_full, msg::database_full, what);
    case SQLITE_CONSTRAINT:
        return make_error(ErrorCode::conflict, msg::sqlite_failed, what, detail);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return make_error(ErrorCode::io, msg::sqlite_failed, what, detail);
    default:
        return make_error(ErrorCode::internal, msg::sqlite_failed, what, detail);
    }
}

// ---- Statement ---------------------------------------------------------------------------

void Statement::Deleter::operator()(sqlite3_stmt* stmt) const noexcept {
    sqlite3_finalize(stmt);
}

Statement& Statement::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(m_stmt.get(), index, value);
    return *this;
}
Statement& Statement::bind(int index, double value) {
    sqlite3_bind_double(m_stmt.get(), index, value);
    return *this;
}
Statement& Statement::bind_view(int index, std::string_view value) {
    sqlite3_bind_text64(m_stmt.get(), index, value.data(), value.size(), SQLITE_STATIC,
                        SQLITE_UTF8);
    return *this;
}
Statement& Statement::bind(int index, std::string_view value) {
    sqlite3_bind_text64(m_stmt.get(), index, value.data(), value.size(), SQLITE_TRANSIENT,
                        SQLITE_UTF8);
    return *this;
}
Statement& Statement::bind(int index, std::nullopt_t) {
    sqlite3_bind_null(m_stmt.get(), index);
    return *this;
}

Result<bool> Statement::step() {
    int rc = sqlite3_step(m_stmt.get());
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        return false;
    }
    Error error = sqlite_error(rc, "database statement", m_db);
    sqlite3_reset(m_stmt.get());
    return tl::unexpected(std::move(error));
}

Result<void> Statement::run() {
    for (;;) {
        auto row = step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            sqlite3_reset(m_stmt.get());
            return {};
        }
    }
}

void Statement::reset() noexcept {
    sqlite3_reset(m_stmt.get());
    sqlite3_clear_bindings(m_stmt.get());
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(m_stmt.get(), column) == SQLITE_NULL;
}
std::int64_t Statement::column_int(int column) const {
    return sqlite3_column_int64(m_stmt.get(), column);
}
double Statement::column_double(int column) const {
    return sqlite3_column_double(m_stmt.get(), column);
}
std::string Statement::column_text(int column) const {
    return std::string(column_view(column));
}
std::string_view Statement::column_view(int column) const {
    const auto* text = sqlite3_column_text(m_stmt.get(), column);
    int size = sqlite3_column_bytes(m_stmt.get(), column);
    return text ? std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(size))
                : std::string_view();
}
std::optional<std::string> Statement::column_opt_text(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return column_text(column);
}
std::optional<std::int64_t> Statement::column_opt_int(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return column_int(column);
}
std::optional<double> Statement::column_opt_double(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return column_double(column);
}
int Statement::column_count() const {
    return sqlite3_column_count(m_stmt.get());
}

// ---- Database ----------------------------------------------------------------------------

void Database::Deleter::operator()(sqlite3* db) const noexcept {
    sqlite3_close_v2(db);
}

Database::Database(Database&& other) noexcept
    : m_db(std::move(other.m_db)), m_path(std::move(other.m_path)),
      m_cache(std::move(other.m_cache)), m_recent(other.m_recent),
      m_recent_next(other.m_recent_next) {
    other.m_recent = {};
}
Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        forget_statements(); // statements must go before their connection
        m_db = std::move(other.m_db);
        m_path = std::move(other.m_path);
        m_cache = std::move(other.m_cache);
        m_recent = other.m_recent;
        m_recent_next = other.m_recent_next;
        other.m_recent = {};
    }
    return *this;
}
Database::~Database() {
    forget_statements();
}

void Database::forget_statements() noexcept {
    m_recent = {};
    m_cache.clear();
}

namespace {

// Creates the file with owner-only permissions before SQLite sees it; SQLite then gives its
// -wal and -shm files the same mode.
Result<void> create_private_file(const std::filesystem::path& path,
                                 bool create_directories = true) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) {
        return {};
    }
    if (path.has_parent_path() && !std::filesystem::is_directory(path.parent_path(), ec)) {
        if (!create_directories) {
            return fail(ErrorCode::not_found, msg::no_such_directory,
                        path.parent_path().string());
        }
        std::filesystem::create_directories(path.parent_path(), ec);
        if (ec) {
            return fail(ErrorCode::io, msg::cannot_create_directory, path.parent_path().string(),
                        ec.message());
        }
        // The data directory holds personal data: the owner only.
        std::filesystem::permissions(path.parent_path(), std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::replace, ec);
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        if (err == ENOSPC || err == EDQUOT) {
            return fail(ErrorCode::storage_full, msg::database_full, path.string());
        }
        return fail(ErrorCode::io, msg::cannot_create_file, path.string(),
                    std::generic_category().message(err));
    }
    ::close(fd);
    return {};
}

} // namespace

namespace {

// SQLite allocates each trigger's frame (its registers and cursors) when the trigger runs and
// frees it when it ends: several allocations per projected record, since the text index and
// the visit totals are kept by triggers. glibc's default gives the heap's top back to the kernel
// whenever 128 KiB lie free there, and those frees kept crossing it: every save then paid for a
// brk() and fresh zeroed pages (page faults were more than a third of bulk recording's time,
// bench_bulk, docs/performance.md). Keeping up to 4 MiB free at the top, and growing it 1 MiB at
// a time, removes that; what a process holds beyond its use stays bounded by those 4 MiB.
void keep_heap_top() {
#ifdef M_TRIM_THRESHOLD
    static std::once_flag once;
    std::call_once(once, [] {
        (void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
        (void)mallopt(M_TOP_PAD, 1 << 20);
    });
#endif
}

} // namespace

Result<Database> Database::open(const std::filesystem::path& path, const OpenOptions& options) {
    keep_heap_top();
    std::error_code ec;
    const bool in_memory = path == ":memory:"; // tests and fuzzers: no file, no WAL
    if (!in_memory && !options.create && !std::filesystem::exists(path, ec)) {
        return fail(ErrorCode::not_found, msg::database_missing, path.string());
    }
    if (!in_memory && options.create && !options.read_only) {
        if (auto made = create_private_file(path, options.create_directories); !made) {
            return tl::unexpected(made.error());
        }
    }
    int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    flags |= SQLITE_OPEN_NOMUTEX;
    Database db;
    db.m_path = path;
    std::int64_t found_id = 0;
    // The first read of the header tells a foreign or corrupt file apart from a database. On a
    // full disk it fails because the WAL index cannot be created; the second attempt keeps the
    // index in memory (exclusive locking mode), which needs no disk space.
    for (int attempt = 0;; ++attempt) {
        sqlite3* raw = nullptr;
        int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
        db.forget_statements();
        db.m_db.reset(raw);
        if (rc != SQLITE_OK) {
            return tl::unexpected(sqlite_error(rc, "cannot open " + path.string(), raw));
        }
        sqlite3_extended_result_codes(raw, 1);
        sqlite3_busy_timeout(raw, options.busy_timeout_ms);
        if (attempt == 1) {
            if (auto ok = db.exec("PRAGMA locking_mode=EXCLUSIVE"); !ok) {
                return tl::unexpected(ok.error());
            }
        }
        auto id = db.read_application_id();
        if (id) {
            found_id = *id;
            break;
        }
        if (attempt == 1 || options.read_only || in_memory ||
            id.error().code != ErrorCode::storage_full) {
            return tl::unexpected(id.error());
        }
    }

    if (options.application_id != 0) {
        CARAVAN_TRY(tables, db.prepare("SELECT count(*) FROM sqlite_schema"));
        CARAVAN_TRY(count, tables.one<std::int64_t>());
        bool empty = count.value_or(0) == 0;
        if (!empty && found_id != static_cast<std::int64_t>(options.application_id)) {
            return fail(ErrorCode::corrupt, msg::foreign_database, path.string());
        }
    }

    if (!options.read_only && !in_memory) {
        CARAVAN_TRY(wal, db.prepare("PRAGMA journal_mode=WAL"));
        CARAVAN_TRY(mode, wal.one<std::string>());
        if (mode != "wal") {
            return fail(ErrorCode::io, msg::cannot_use_wal, path.string());
        }
    }
    if (auto ok = db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"); !ok) {
        return tl::unexpected(ok.error());
    }
    if (options.application_id != 0 && found_id == 0 && !options.read_only) {
        auto set = db.exec("PRAGMA application_id=" + std::to_string(options.application_id));
        if (!set) {
            return tl::unexpected(set.error());
        }
    }
    if (options.integrity_check) {
        auto check = db.prepare("PRAGMA quick_check(5)");
        if (!check) {
            return fail(ErrorCode::corrupt, msg::damaged, path.string(), check.error());
        }
        std::string problems;
        auto checked = check->each([&](const Statement& row) {
            std::string line = row.column_text(0);
            if (line != "ok") {
                problems += (problems.empty() ? "" : "; ") + line;
            }
        });
        if (!checked) {
            return fail(checked.error().code == ErrorCode::busy ? ErrorCode::busy
                                                                : ErrorCode::corrupt,
                        msg::integrity_failed, path.string(), checked.error());
        }
        if (!problems.empty()) {
            return fail(ErrorCode::corrupt, msg::integrity_failed, path.string(), problems);
        }
    }
    return db;
}

Result<std::int64_t> Database::read_application_id() {
    // Only what SQLite calls corrupt is called damaged: a locked file or a full disk is not a
    // damaged database, and saying so would frighten a user into "repairing" it.
    auto header_error = [&](const Error& e) -> Error {
        if (e.code == ErrorCode::busy || e.code == ErrorCode::storage_full) {
            return e;
        }
        if (e.code == ErrorCode::io) {
            return make_error(ErrorCode::io, msg::cannot_read_database, m_path.string(), e);
        }
        return make_error(ErrorCode::corrupt, msg::not_a_database, m_path.string(), e);
    };
    auto app_id = prepare("PRAGMA application_id");
    if (!app_id) {
        return tl::unexpected(header_error(app_id.error()));
    }
    auto id = app_id->one<std::int64_t>();
    if (!id) {
        return tl::unexpected(header_error(id.error()));
    }
    return id->value_or(0);
}

Result<void> Database::exec(std::string_view sql) {
    std::string text(sql);
    char* message = nullptr;
    int rc = sqlite3_exec(m_db.get(), text.c_str(), nullptr, nullptr, &message);
    sqlite3_free(message);
    if (rc != SQLITE_OK) {
        return tl::unexpected(sqlite_error(rc, "database statement", m_db.get()));
    }
    return {};
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(m_db.get(), sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return tl::unexpected(sqlite_error(rc, "preparing a database statement", m_db.get()));
    }
    return Statement(m_db.get(), stmt);
}

Result<Statement*> Database::cached(std::string_view sql) {
    for (const Recent& r : m_recent) {
        // Same address is not proof (a freed string's memory is reused): the text must match.
        if (r.key != nullptr && r.sql == sql.data() && *r.key == sql) {
            r.stmt->reset();
            return r.stmt;
        }
    }
    auto found = m_cache.find(sql);
    if (found == m_cache.end()) {
        auto stmt = prepare(sql);
        if (!stmt) {
            return tl::unexpected(stmt.error());
        }
        found = m_cache.emplace(std::string(sql), std::move(*stmt)).first;
    }
    found->second.reset();
    m_recent[m_recent_next] = Recent{sql.data(), &found->first, &found->second};
    m_recent_next = (m_recent_next + 1) % m_recent.size();
    return &found->second;
}

std::int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(m_db.get());
}
int Database::changes() const {
    return sqlite3_changes(m_db.get());
}
bool Database::in_transaction() const {
    return sqlite3_get_autocommit(m_db.get()) == 0;
}

Result<std::vector<std::string>> Database::integrity_check() {
    auto check = prepare("PRAGMA integrity_check");
    if (!check) {
        return tl::unexpected(check.error());
    }
    std::vector<std::string> problems;
    CARAVAN_TRY_VOID(check->each([&](const Statement& row) {
        std::string line = row.column_text(0);
        if (line != "ok") {
            problems.push_back(std::move(line));
        }
    }));
    return problems;
}

Result<void> Database::backup_to(const std::filesystem::path& target) {
    std::error_code ec;
    std::filesystem::remove(target, ec);
    if (auto made = create_private_file(target); !made) {
        return made;
    }
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(target.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
    std::unique_ptr<sqlite3, Deleter> dest(raw);
    if (rc != SQLITE_OK) {
        return tl::unexpected(sqlite_error(rc, "cannot open backup file " + target.string(), raw));
    }
    sqlite3_backup* backup = sqlite3_backup_init(raw, "main", m_db.get(), "main");
    if (!backup) {
        return tl::unexpected(sqlite_error(sqlite3_errcode(raw), "starting backup", raw));
    }
    do {
        rc = sqlite3_backup_step(backup, 256);
        if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
            sqlite3_sleep(20);
        }
    } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        return tl::unexpected(sqlite_error(rc, "writing backup " + target.string(), raw));
    }
    return {};
}

Result<void> Database::copy_to(Database& target) {
    sqlite3_backup* backup = sqlite3_backup_init(target.m_db.get(), "main", m_db.get(), "main");
    if (!backup) {
        return tl::unexpected(
            sqlite_error(sqlite3_errcode(target.m_db.get()), "starting copy", target.m_db.get()));
    }
    int rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        return tl::unexpected(sqlite_error(rc, "copying the database", target.m_db.get()));
    }
    target.forget_statements(); // its prepared statements may refer to the replaced schema
    return {};
}

Result<void> Database::restore_from(const std::filesystem::path& source) {
    sqlite3* raw = nullptr;
    int rc = sqlite3_open_v2(source.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, Deleter> src(raw);
    if (rc != SQLITE_OK) {
        return tl::unexpected(sqlite_error(rc, "cannot open " + source.string(), raw));
    }
    sqlite3_backup* backup = sqlite3_backup_init(m_db.get(), "main", raw, "main");
    if (!backup) {
        return tl::unexpected(
            sqlite_error(sqlite3_errcode(m_db.get()), "starting restore", m_db.get()));
    }
    rc = sqlite3_backup_step(backup, -1);
    sqlite3_backup_finish(backup);
    if (rc != SQLITE_DONE) {
        return tl::unexpected(sqlite_error(rc, "restoring from " + source.string(), m_db.get()));
    }
    forget_statements(); // prepared statements may refer to the replaced schema
    return {};
}

Result<void> Database::set_max_page_count(std::int64_t pages) {
    return exec("PRAGMA max_page_count=" + std::to_string(pages));
}

} // namespace caravan::storage
