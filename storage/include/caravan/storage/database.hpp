#pragma once
// RAII access to one SQLite database file.
//
// Contract:
// - A Database owns one connection. It is movable, not copyable, and must be used from one
//   thread at a time (the server gives each worker its own Database).
// - Every file opened read-write is put in WAL mode with synchronous=FULL: once commit()
//   returns, the change survives a power cut.
// - A full disk does not stop reading: when the WAL index (the -shm file) cannot be created for
//   lack of space, the file is opened again in exclusive locking mode, which keeps the index in
//   memory. Reads then work; writes fail with storage_full as they would anyway, and other
//   processes wait (busy) until this connection closes.
// - Statements are prepared once and cached per connection; SQL text must be a constant of the
//   program, values are always bound.
// - No SQLite type appears in this header.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "caravan/storage/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace caravan::storage {

struct OpenOptions {
    bool create = true;             // create the file (owner-only permissions) if missing
    // With `create`: also create missing parent directories (0700). When false, a missing
    // parent directory is refused (not_found, cannot_create_no_directory) and nothing is made.
    bool create_directories = true;
    bool read_only = false;
    int busy_timeout_ms = 5000;     // how long to wait for another writer before `busy`
    bool integrity_check = true;    // run PRAGMA quick_check on open
    std::uint32_t application_id = 0; // when non-zero, a file carrying another id is refused
};

class Statement {
  public:
    Statement(Statement&&) noexcept = default;
    Statement& operator=(Statement&&) noexcept = default;

    // Binding (1-based indexes, as SQLite). Text is bound by copy.
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, double value);
    Statement& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, std::string_view value);
    Statement& bind(int index, const std::string& value) { return bind(index, std::string_view(value)); }
    Statement& bind(int index, const char* value) { return bind(index, std::string_view(value)); }
    Statement& bind(int index, std::nullopt_t);
    template <class T> Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bind(index, std::nullopt);
    }
    template <class... Args> Statement& bind_all(const Args&... args) {
        int i = 0;
        (bind(++i, args), ...);
        return *this;
    }
    // Binds text without copying it: the caller keeps `value` alive until the statement has
    // run. For the hot inserts, whose values outlive the step; Database::cached() clears the
    // bindings before it hands the statement out again.
    Statement& bind_view(int index, std::string_view value);
    // bind_all, with text bound by bind_view.
    template <class... Args> Statement& bind_all_views(const Args&... args) {
        int i = 0;
        (
            [&](const auto& arg) {
                ++i;
                if constexpr (std::is_convertible_v<decltype(arg), std::string_view>) {
                    bind_view(i, arg);
                } else {
                    bind(i, arg);
                }
            }(args),
            ...);
        return *this;
    }

    // Advances: true when a row is available, false when done.
    [[nodiscard]] Result<bool> step();
    // Runs to completion, ignoring rows.
    [[nodiscard]] Result<void> run();
    // Resets for reuse and clears bindings. Called automatically by Database::prepare_cached.
    void reset() noexcept;

    [[nodiscard]] bool is_null(int column) const;
    [[nodiscard]] std::int64_t column_int(int column) const;
    [[nodiscard]] double column_double(int column) const;
    [[nodiscard]] std::string column_text(int column) const;
    // The same text without a copy: valid until the statement steps, resets or is destroyed.
    [[nodiscard]] std::string_view column_view(int column) const;
    [[nodiscard]] std::optional<std::string> column_opt_text(int column) const;
    [[nodiscard]] std::optional<std::int64_t> column_opt_int(int column) const;
    [[nodiscard]] std::optional<double> column_opt_double(int column) const;
    [[nodiscard]] int column_count() const;
    // The value of `column` as T: std::int64_t, int, bool, double, std::string, or a
    // std::optional of one of these (nullopt for NULL). A NULL read as a plain T is 0 or "".
    template <class T> [[nodiscard]] T get(int column) const;

    // Steps through the rows, calling `visit(const Statement& row)` on each; the statement is
    // reset afterwards (bindings cleared), on success and on failure alike. `visit` returns
    // void (read every row), bool (false stops early, no error) or Result<void> (an error
    // stops and is returned). Failure: the step's error (busy, corrupt, io...).
    template <class Visit> [[nodiscard]] Result<void> each(Visit&& visit);
    // Calls `visit(row)` on the first row only: true when there was one.
    template <class Visit> [[nodiscard]] Result<bool> first(Visit&& visit);
    // Column 0 of the first row as T; nullopt when there is no row or the value is NULL.
    template <class T> [[nodiscard]] Result<std::optional<T>> one();
    // Every row, as `read(row)` returns it.
    template <class Read>
    [[nodiscard]] Result<std::vector<std::invoke_result_t<Read&, const Statement&>>>
    collect(Read&& read);

  private:
    friend class Database;
    struct Deleter {
        void operator()(sqlite3_stmt* stmt) const noexcept;
    };
    Statement(sqlite3* db, sqlite3_stmt* stmt) : m_db(db), m_stmt(stmt) {}
    sqlite3* m_db = nullptr;
    std::unique_ptr<sqlite3_stmt, Deleter> m_stmt;
};

class Database;

// One run of a cached statement with its values bound, as returned by Database::query:
//
//     auto ok = db.query("SELECT id, name FROM villages WHERE region = ?", region)
//                   .each([&](const Statement& row) { names.push_back(row.get<std::string>(1)); });
//     auto seq = db.query("SELECT max(seq) FROM events WHERE device_id = ?", id).one<std::int64_t>();
//
// The methods are those of Statement (each, first, one, collect) plus run, each usable once; a failure
// to prepare the statement is reported by whichever runs. The statement is reset when it is
// done, so a cached statement never keeps a read transaction open. A Query must not outlive
// its Database and must not be interleaved with another use of the same SQL text.
class Query {
  public:
    explicit Query(Result<Statement*> stmt) : m_stmt(std::move(stmt)) {}

    template <class Visit> [[nodiscard]] Result<void> each(Visit&& visit) && {
        if (!m_stmt) {
            return tl::unexpected(m_stmt.error());
        }
        return (*m_stmt)->each(std::forward<Visit>(visit));
    }
    template <class Visit> [[nodiscard]] Result<bool> first(Visit&& visit) && {
        if (!m_stmt) {
            return tl::unexpected(m_stmt.error());
        }
        return (*m_stmt)->first(std::forward<Visit>(visit));
    }
    template <class T> [[nodiscard]] Result<std::optional<T>> one() && {
        if (!m_stmt) {
            return tl::unexpected(m_stmt.error());
        }
        return (*m_stmt)->template one<T>();
    }
    template <class Read>
    [[nodiscard]] Result<std::vector<std::invoke_result_t<Read&, const Statement&>>>
    collect(Read&& read) && {
        if (!m_stmt) {
            return tl::unexpected(m_stmt.error());
        }
        return (*m_stmt)->collect(std::forward<Read>(read));
    }
    // Runs to completion, ignoring rows (INSERT, UPDATE, DELETE).
    [[nodiscard]] Result<void> run() && {
        if (!m_stmt) {
            return tl::unexpected(m_stmt.error());
        }
        return (*m_stmt)->run();
    }

  private:
    Result<Statement*> m_stmt;
};

class Database {
  public:
    // `path` ":memory:" opens a private in-memory database (tests, fuzzers).
    [[nodiscard]] static Result<Database> open(const std::filesystem::path& path,
                                               const OpenOptions& options = {});

    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;
    ~Database();

    // Runs one or more statements without bindings (schema changes, pragmas).
    [[nodiscard]] Result<void> exec(std::string_view sql);
    // A fresh statement owned by the caller.
    [[nodiscard]] Result<Statement> prepare(std::string_view sql);
    // A statement owned by this connection, reset and ready to bind. The pointer stays valid
    // until the Database is destroyed; do not interleave two uses of the same SQL text.
    [[nodiscard]] Result<Statement*> cached(std::string_view sql);
    // The cached statement `sql` with `binds` bound to parameters 1, 2, ... in order (text by
    // copy, std::optional as NULL when empty), ready to run: see Query.
    template <class... Binds> [[nodiscard]] Query query(std::string_view sql, const Binds&... binds) {
        auto stmt = cached(sql);
        if (stmt) {
            (*stmt)->bind_all(binds...);
        }
        return Query(std::move(stmt));
    }

    [[nodiscard]] std::int64_t last_insert_rowid() const;
    [[nodiscard]] int changes() const;
    [[nodiscard]] bool in_transaction() const;
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }

    // PRAGMA integrity_check: empty vector when the file is sound.
    [[nodiscard]] Result<std::vector<std::string>> integrity_check();
    // Copies a consistent snapshot to `target` with the online backup API.
    [[nodiscard]] Result<void> backup_to(const std::filesystem::path& target);
    // Replaces the whole content of `target` (another open database, e.g. ":memory:") with a
    // consistent snapshot of this one.
    [[nodiscard]] Result<void> copy_to(Database& target);
    // Replaces this database's whole content with that of the database file `source`, under
    // this connection's write lock (the online backup API in reverse). Readers see the old or
    // the new content, never a mix.
    [[nodiscard]] Result<void> restore_from(const std::filesystem::path& source);
    // Caps the database size (pages), for tests of a full disk.
    [[nodiscard]] Result<void> set_max_page_count(std::int64_t pages);

  private:
    struct Deleter {
        void operator()(sqlite3* db) const noexcept;
    };
    // Looks statements up by the SQL text without building a std::string per lookup.
    struct SqlHash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const noexcept {
            return std::hash<std::string_view>{}(sql);
        }
    };
    Database() = default;
    void forget_statements() noexcept;
    // PRAGMA application_id: the first read of the file.
    [[nodiscard]] Result<std::int64_t> read_application_id();
    std::unique_ptr<sqlite3, Deleter> m_db;
    std::filesystem::path m_path;
    std::unordered_map<std::string, Statement, SqlHash, std::equal_to<>> m_cache;
    // The last statements looked up, by the address of the caller's SQL text: the hot paths pass
    // the same literal or static string on every call, and comparing it with the cached key
    // costs less than hashing a few hundred characters. Entries point into m_cache, whose nodes
    // never move.
    struct Recent {
        const char* sql = nullptr;
        const std::string* key = nullptr;
        Statement* stmt = nullptr;
    };
    std::array<Recent, 8> m_recent{};
    std::size_t m_recent_next = 0;
};

template <class T> T Statement::get(int column) const {
    if constexpr (std::is_same_v<T, std::int64_t>) {
        return column_int(column);
    } else if constexpr (std::is_same_v<T, int>) {
        return static_cast<int>(column_int(column));
    } else if constexpr (std::is_same_v<T, bool>) {
        return column_int(column) != 0;
    } else if constexpr (std::is_same_v<T, double>) {
        return column_double(column);
    } else if constexpr (std::is_same_v<T, std::string>) {
        return column_text(column);
    } else {
        using V = typename T::value_type; // std::optional<V>
        return is_null(column) ? T() : T(get<V>(column));
    }
}

template <class Visit> Result<void> Statement::each(Visit&& visit) {
    for (;;) {
        auto row = step();
        if (!row) {
            reset();
            return tl::unexpected(row.error());
        }
        if (!*row) {
            reset();
            return {};
        }
        using Returned = std::invoke_result_t<Visit&, const Statement&>;
        if constexpr (std::is_void_v<Returned>) {
            visit(std::as_const(*this));
        } else if constexpr (std::is_same_v<Returned, bool>) {
            if (!visit(std::as_const(*this))) {
                reset();
                return {};
            }
        } else {
            if (auto ok = visit(std::as_const(*this)); !ok) {
                reset();
                return ok;
            }
        }
    }
}

template <class Visit> Result<bool> Statement::first(Visit&& visit) {
    bool found = false;
    auto ok = each([&](const Statement& row) {
        visit(row);
        found = true;
        return false;
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return found;
}

template <class T> Result<std::optional<T>> Statement::one() {
    std::optional<T> value;
    auto found = first([&](const Statement& row) { value = row.get<std::optional<T>>(0); });
    if (!found) {
        return tl::unexpected(found.error());
    }
    return value;
}

template <class Read>
Result<std::vector<std::invoke_result_t<Read&, const Statement&>>> Statement::collect(Read&& read) {
    std::vector<std::invoke_result_t<Read&, const Statement&>> out;
    auto ok = each([&](const Statement& row) { out.push_back(read(row)); });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return out;
}

// Maps a SQLite result code to our vocabulary; `what` names the operation, never data.
[[nodiscard]] Error sqlite_error(int rc, std::string_view what, sqlite3* db = nullptr);

} // namespace caravan::storage
