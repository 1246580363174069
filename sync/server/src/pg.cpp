#include "caravan/sync/server/pg.hpp"

#include <cstdlib>
#include <cstring>

#include <libpq-fe.h>

namespace caravan::sync::server::pg {

namespace {

PGconn* as_conn(void* p) {
    return static_cast<PGconn*>(p);
}
const PGresult* as_result(void* p) {
    return static_cast<const PGresult*>(p);
}

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

// SQLSTATE classes (PostgreSQL appendix A) to our codes.
ErrorCode code_for(std::string_view state) {
    if (state == "40001" || state == "40P01" || state == "55P03" || state == "57014") {
        return ErrorCode::busy; // serialization failure, deadlock, lock or statement timeout
    }
    if (state == "23505") {
        return ErrorCode::conflict;
    }
    if (state == "53100") {
        return ErrorCode::storage_full;
    }
    if (state.substr(0, 2) == "08" || state.substr(0, 2) == "57" || state == "53300") {
        return ErrorCode::offline; // connection exceptions, shutdown, too many connections
    }
    if (state.substr(0, 2) == "42" || state.substr(0, 2) == "22") {
        return ErrorCode::internal; // syntax or data errors: our statement is wrong
    }
    return ErrorCode::io;
}

} // namespace

bool is_url(std::string_view text) {
    return text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0;
}

std::string redact(std::string_view url) {
    // scheme://user:password@host → scheme://user:***@host
    const std::size_t scheme = url.find("://");
    const std::size_t at = url.find('@');
    if (scheme == std::string_view::npos || at == std::string_view::npos || at < scheme) {
        return std::string(url);
    }
    const std::size_t colon = url.find(':', scheme + 3);
    if (colon == std::string_view::npos || colon > at) {
        return std::string(url);
    }
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Param array(const std::vector<Param>& elements) {
    std::string text = "{";
    for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i > 0) {
            text.push_back(',');
        }
        if (!elements[i]) {
            text += "NULL";
            continue;
        }
        text.push_back('"');
        for (char c : *elements[i]) {
            if (c == '"' || c == '\\') {
                text.push_back('\\');
            }
            text.push_back(c);
        }
        text.push_back('"');
    }
    text.push_back('}');
    return text;
}

// ---- Rows ------------------------------------------------------------------------------------

void Rows::Free::operator()(void* result) const noexcept {
    PQclear(static_cast<PGresult*>(result));
}

int Rows::size() const {
    return m_result ? PQntuples(as_result(m_result.get())) : 0;
}

bool Rows::is_null(int row, int column) const {
    return PQgetisnull(as_result(m_result.get()), row, column) != 0;
}

std::string Rows::text(int row, int column) const {
    const PGresult* r = as_result(m_result.get());
    return std::string(PQgetvalue(r, row, column),
                       static_cast<std::size_t>(PQgetlength(r, row, column)));
}

std::int64_t Rows::int64(int row, int column) const {
    if (is_null(row, column)) {
        return 0;
    }
    return std::strtoll(PQgetvalue(as_result(m_result.get()), row, column), nullptr, 10);
}

bool Rows::boolean(int row, int column) const {
    const std::string v = text(row, column);
    return v == "t" || v == "true" || v == "1";
}

std::optional<std::string> Rows::opt_text(int row, int column) const {
    return is_null(row, column) ? std::nullopt : std::optional(text(row, column));
}

std::optional<std::int64_t> Rows::opt_int64(int row, int column) const {
    return is_null(row, column) ? std::nullopt : std::optional(int64(row, column));
}

std::int64_t Rows::affected() const {
    const char* n = m_result ? PQcmdTuples(static_cast<PGresult*>(m_result.get())) : "";
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

// ---- Connection ------------------------------------------------------------------------------

void Connection::Finish::operator()(void* conn) const noexcept {
    PQfinish(static_cast<PGconn*>(conn));
}

Result<Connection> Connection::open(const std::string& url) {
    PGconn* conn = PQconnectdb(url.c_str());
    Connection c(conn);
    if (!conn) {
        return fail(ErrorCode::internal, "out of memory connecting to PostgreSQL");
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        return fail(ErrorCode::offline, "cannot connect to PostgreSQL at " + redact(url) + ": " +
                                            trimmed(PQerrorMessage(conn)));
    }
    // Notices (e.g. "relation already exists, skipping") are not for the server's log.
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    return c;
}

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const Param& p : params) {
        values.push_back(p ? p->c_str() : nullptr);
    }
    const std::string text(sql);
    PGresult* result =
        PQexecParams(as_conn(m_conn.get()), text.c_str(), static_cast<int>(values.size()), nullptr,
                     values.data(), nullptr, nullptr, 0);
    Rows rows(result);
    const ExecStatusType status = result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        return rows;
    }
    const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : (healthy() ? "XX000" : "08006");
    const char* primary = result ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    return fail(code_for(sqlstate),
                "PostgreSQL " + sqlstate + ": " +
                    trimmed(primary ? primary : PQerrorMessage(as_conn(m_conn.get()))));
}

Result<void> Connection::run(std::string_view sql, const std::vector<Param>& params) {
    CARAVAN_TRY(rows, exec(sql, params));
    (void)rows;
    return {};
}

Result<void> Connection::run_script(std::string_view sql) {
    const std::string text(sql);
    Rows rows(PQexec(as_conn(m_conn.get()), text.c_str()));
    const ExecStatusType status =
        rows.m_result ? PQresultStatus(as_result(rows.m_result.get())) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        return {};
    }
    const char* state = rows.m_result
                            ? PQresultErrorField(as_result(rows.m_result.get()), PG_DIAG_SQLSTATE)
                            : nullptr;
    const std::string sqlstate = state ? state : "08006";
    return fail(code_for(sqlstate),
                "PostgreSQL " + sqlstate + ": " + trimmed(PQerrorMessage(as_conn(m_conn.get()))));
}

bool Connection::healthy() const {
    return m_conn && PQstatus(as_conn(m_conn.get())) == CONNECTION_OK;
}

// ---- Transaction -----------------------------------------------------------------------------

Result<Transaction> Transaction::begin(Connection& conn) {
    CARAVAN_TRY_VOID(conn.run("BEGIN"));
    return Transaction(conn);
}

Transaction::~Transaction() {
    if (m_conn) {
        (void)m_conn->run("ROLLBACK");
    }
}

Result<void> Transaction::commit() {
    if (!m_conn) {
        return fail(ErrorCode::internal, "transaction already finished");
    }
    Connection* conn = std::exchange(m_conn, nullptr);
    if (auto ok = conn->run("COMMIT"); !ok) {
        (void)conn->run("ROLLBACK");
        return ok;
    }
    return {};
}

// ---- Pool ------------------------------------------------------------------------------------

Pool::Pool(std::string url, std::size_t size) : m_url(std::move(url)), m_size(size ? size : 1) {}

Pool::Lease::~Lease() {
    if (m_conn) {
        m_pool->give_back(std::move(m_conn));
    }
}

Result<Pool::Lease> Pool::acquire() {
    std::unique_lock lock(m_mutex);
    m_ready.wait(lock, [&] { return !m_free.empty() || m_open < m_size; });
    if (!m_free.empty()) {
        std::unique_ptr<Connection> conn = std::move(m_free.back());
        m_free.pop_back();
        return Lease(*this, std::move(conn));
    }
    ++m_open; // reserved while connecting, outside the lock
    lock.unlock();
    auto conn = Connection::open(m_url);
    if (!conn) {
        lock.lock();
        --m_open;
        m_ready.notify_one();
        return tl::unexpected(conn.error());
    }
    return Lease(*this, std::make_unique<Connection>(std::move(*conn)));
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(m_mutex);
    if (conn->healthy()) {
        m_free.push_back(std::move(conn));
    } else {
        --m_open;
    }
    m_ready.notify_one();
}

} // namespace caravan::sync::server::pg
