#pragma once
// A small RAII layer over libpq for the server's PostgreSQL store (docs/decisions/0006-postgresql-store.md).
//
//   Connection   one PGconn, opened from a postgresql:// URL (sslmode and the rest pass through
//                to libpq untouched); every statement has its values as parameters ($1, $2...),
//                sent in text form: SQL text is always a constant of the program.
//   Rows         one PGresult: the rows of a statement, read as text or integers.
//   Transaction  BEGIN ... COMMIT; rolls back on destruction unless committed.
//   Pool         a bounded set of connections to one URL, lent one at a time.
//
// Contract:
// - A Connection is used by one thread at a time; a Pool is thread-safe.
// - Failures come back as Error values, mapped from SQLSTATE at this boundary: a lost or refused
//   connection `offline`; a serialization failure, deadlock or lock timeout `busy`; a unique
//   violation `conflict`; a full disk `storage_full`; the rest `io` (the server's fault) or
//   `internal` (a malformed statement: a bug). The message carries the SQLSTATE and libpq's
//   text, never a parameter's value.
// - No libpq type appears in this header.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "caravan/storage/result.hpp"

namespace caravan::sync::server::pg {

// True for a store argument that names a PostgreSQL database rather than a file path.
[[nodiscard]] bool is_url(std::string_view text);
// `url` with any password replaced by "***", for logs and messages.
[[nodiscard]] std::string redact(std::string_view url);

// A statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;

[[nodiscard]] inline Param param(std::string_view v) {
    return std::string(v);
}
[[nodiscard]] inline Param param(const std::string& v) {
    return v;
}
[[nodiscard]] inline Param param(const char* v) {
    return std::string(v);
}
[[nodiscard]] inline Param param(std::int64_t v) {
    return std::to_string(v);
}
[[nodiscard]] inline Param param(int v) {
    return std::to_string(v);
}
[[nodiscard]] inline Param param(bool v) {
    return std::string(v ? "true" : "false");
}
template <class T> [[nodiscard]] Param param(const std::optional<T>& v) {
    return v ? param(*v) : Param();
}
[[nodiscard]] inline Param param(std::nullopt_t) {
    return Param();
}

template <class... Args> [[nodiscard]] std::vector<Param> params(const Args&... args) {
    return std::vector<Param>{param(args)...};
}

// One parameter holding an array (PostgreSQL's text form, every element quoted and escaped),
// for a statement such as `INSERT ... SELECT * FROM unnest($1::bigint[], $2::text[])` that
// writes many rows in one round trip.
[[nodiscard]] Param array(const std::vector<Param>& elements);

class Rows {
  public:
    Rows() = default;
    [[nodiscard]] int size() const;
    [[nodiscard]] bool empty() const { return size() == 0; }
    [[nodiscard]] bool is_null(int row, int column) const;
    // "" / 0 for NULL.
    [[nodiscard]] std::string text(int row, int column) const;
    [[nodiscard]] std::int64_t int64(int row, int column) const;
    [[nodiscard]] bool boolean(int row, int column) const;
    [[nodiscard]] std::optional<std::string> opt_text(int row, int column) const;
    [[nodiscard]] std::optional<std::int64_t> opt_int64(int row, int column) const;
    // Rows affected by an INSERT/UPDATE/DELETE.
    [[nodiscard]] std::int64_t affected() const;

  private:
    friend class Connection;
    struct Free {
        void operator()(void* result) const noexcept;
    };
    explicit Rows(void* result) : m_result(result) {}
    std::unique_ptr<void, Free> m_result;
};

class Connection {
  public:
    // Connects (libpq's own timeouts and sslmode from the URL). offline when the server cannot
    // be reached or refuses the login.
    [[nodiscard]] static Result<Connection> open(const std::string& url);
    Connection(Connection&&) noexcept = default;
    Connection& operator=(Connection&&) noexcept = default;

    // Runs one statement with its parameters ($1...).
    [[nodiscard]] Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
    // Runs one statement, ignoring any rows.
    [[nodiscard]] Result<void> run(std::string_view sql, const std::vector<Param>& params = {});
    // Runs a script of several statements without parameters (schema installation).
    [[nodiscard]] Result<void> run_script(std::string_view sql);
    // False once the connection is lost (a pool drops it then).
    [[nodiscard]] bool healthy() const;

  private:
    struct Finish {
        void operator()(void* conn) const noexcept;
    };
    explicit Connection(void* conn) : m_conn(conn) {}
    std::unique_ptr<void, Finish> m_conn;
};

// BEGIN on construction through begin(); ROLLBACK on destruction unless commit() succeeded.
class Transaction {
  public:
    [[nodiscard]] static Result<Transaction> begin(Connection& conn);
    Transaction(Transaction&& other) noexcept : m_conn(std::exchange(other.m_conn, nullptr)) {}
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();
    [[nodiscard]] Result<void> commit();

  private:
    explicit Transaction(Connection& conn) : m_conn(&conn) {}
    Connection* m_conn;
};

// At most `size` connections to `url`, opened on demand; acquire() waits for a free one. A
// connection that was lost is dropped when it comes back, and a new one opened next time.
class Pool {
  public:
    Pool(std::string url, std::size_t size);
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    class Lease {
      public:
        Lease(Pool& pool, std::unique_ptr<Connection> conn)
            : m_pool(&pool), m_conn(std::move(conn)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease();
        Connection& operator*() { return *m_conn; }
        Connection* operator->() { return m_conn.get(); }

      private:
        Pool* m_pool;
        std::unique_ptr<Connection> m_conn;
    };

    [[nodiscard]] Result<Lease> acquire();
    [[nodiscard]] const std::string& url() const { return m_url; }
    [[nodiscard]] std::size_t size() const { return m_size; }

  private:
    void give_back(std::unique_ptr<Connection> conn);

    std::string m_url;
    std::size_t m_size;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::vector<std::unique_ptr<Connection>> m_free;
    std::size_t m_open = 0; // connections that exist (free or lent)
};

} // namespace caravan::sync::server::pg
