#include "pg_store.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "account_stores.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/server/credentials.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "ingest.hpp"
#include "pg_failures.hpp"
#include "registry_rules.hpp"

namespace caravan::sync::server {

namespace fs = std::filesystem;
using nlohmann::json;
using storage::Event;

namespace {

// Schema versions of the PostgreSQL store, applied in order under an advisory lock (two
// processes starting at once install it once).
struct PgMigration {
    int version;
    std::string_view sql;
};
const PgMigration k_pg_migrations[] = {
    {1, R"sql(
CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE enrollment_codes(
    code_hash  text PRIMARY KEY,
    lawyer     text NOT NULL,
    role       text NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions    text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at    bigint,
    used_by    text
);
CREATE TABLE enrolled_devices(
    device_id       text PRIMARY KEY,
    lawyer          text NOT NULL,
    role            text NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions         text NOT NULL,
    token_hash      text NOT NULL UNIQUE,
    enrolled_at     bigint NOT NULL,
    revoked_at      bigint,
    acked_seq       bigint NOT NULL DEFAULT 0,
    last_push_at    bigint,
    last_pull_at    bigint,
    last_sync_at    bigint,
    app_version     text,
    queue_depth     bigint,
    oldest_unsynced text,
    successor       text,
    predecessor     text,
    rotated_at      bigint,
    first_used_at   bigint
);
CREATE INDEX enrolled_devices_by_predecessor ON enrolled_devices(predecessor);
CREATE TABLE feed_head(
    id            integer PRIMARY KEY CHECK (id = 1),
    last_position bigint NOT NULL,
    last_rejected bigint NOT NULL
);
INSERT INTO feed_head VALUES (1, 0, 0);
CREATE TABLE events(
    log_position   bigint PRIMARY KEY,
    device_id      text NOT NULL,
    seq            bigint NOT NULL CHECK (seq > 0),
    hlc            bigint NOT NULL,
    entity_type    text NOT NULL,
    entity_id      text NOT NULL,
    op             text NOT NULL,
    payload        text NOT NULL,
    schema_version integer NOT NULL,
    reference      boolean NOT NULL,
    region_key     text,
    UNIQUE (device_id, seq)
);
-- What a device sent and the server refused is kept byte for byte (it may not be valid text).
CREATE TABLE rejected_events(
    rejected_no    bigint NOT NULL UNIQUE,
    device_id      text NOT NULL,
    seq            bigint NOT NULL,
    hlc            bigint NOT NULL,
    entity_type    bytea NOT NULL,
    entity_id      bytea NOT NULL,
    op             bytea NOT NULL,
    payload        bytea NOT NULL,
    schema_version integer NOT NULL,
    code           text NOT NULL,
    message        text NOT NULL,
    received_at    bigint NOT NULL,
    PRIMARY KEY (device_id, seq)
);
-- Wrong enrollment codes per client address, seen by any process (the shared rate limit).
CREATE TABLE enroll_failures(address text NOT NULL, at bigint NOT NULL);
CREATE INDEX enroll_failures_by_address ON enroll_failures(address, at);
)sql"},
    // The coordinator's dashboard (accounts.hpp), shared by every process: as the embedded
    // store's migration 4, plus the wrong logins every process counts (keys are SHA-256s).
    {2, R"sql(
CREATE TABLE accounts(
    name          text PRIMARY KEY,
    role          text NOT NULL CHECK (role IN ('coordinator', 'viewer')),
    regions       text NOT NULL,
    password_hash text NOT NULL,
    created_at    bigint NOT NULL,
    settings      text NOT NULL DEFAULT '{}'
);
CREATE TABLE account_sessions(
    id_hash      text PRIMARY KEY,
    account      text NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
    csrf         text NOT NULL,
    created_at   bigint NOT NULL,
    last_seen_at bigint NOT NULL
);
CREATE INDEX account_sessions_by_account ON account_sessions(account);
CREATE TABLE audit_log(
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      bigint NOT NULL,
    account text NOT NULL,
    action  text NOT NULL,
    detail  text NOT NULL
);
CREATE TABLE login_failures(key text NOT NULL, at bigint NOT NULL);
CREATE INDEX login_failures_by_key ON login_failures(key, at);
)sql"},
};

using rules::k_device_columns;

constexpr pg::FailureTable k_enroll_failures{
    "SELECT at FROM enroll_failures WHERE address = $1 AND at > $2"
    " ORDER BY at DESC OFFSET $3::bigint - 1 LIMIT 1",
    "DELETE FROM enroll_failures WHERE address = $1 AND at <= $2",
    "INSERT INTO enroll_failures(address, at) VALUES($1, $2)"};

// Events read from PostgreSQL into the cache per round trip.
constexpr int k_catch_up_batch = 2000;

ApiError internal(const Error& error) {
    return api_error_from(error);
}

// Row `i` of a result, as rules::device_from reads it.
struct ResultRow {
    const pg::Rows& r;
    int i;
    [[nodiscard]] std::string text(int c) const { return r.text(i, c); }
    [[nodiscard]] std::int64_t int64(int c) const { return r.int64(i, c); }
    [[nodiscard]] std::optional<std::string> opt_text(int c) const { return r.opt_text(i, c); }
    [[nodiscard]] std::optional<std::int64_t> opt_int64(int c) const { return r.opt_int64(i, c); }
};

DeviceRecord read_device(const pg::Rows& r, int i) {
    return rules::device_from(ResultRow{r, i});
}

Result<std::optional<DeviceRecord>> load_device(pg::Connection& conn, std::string_view device_id,
                                                bool for_update = false) {
    static const std::string sql =
        "SELECT " + std::string(k_device_columns) + " FROM enrolled_devices WHERE device_id = $1";
    static const std::string locked = sql + " FOR UPDATE";
    CARAVAN_TRY(rows, conn.exec(for_update ? locked : sql, pg::params(device_id)));
    if (rows.empty()) {
        return std::optional<DeviceRecord>();
    }
    return std::optional(read_device(rows, 0));
}

// The highest seq of `device_id`'s events in the feed, 0 when none.
Result<std::int64_t> held_seq(pg::Connection& conn, std::string_view device_id) {
    CARAVAN_TRY(rows, conn.exec("SELECT coalesce(max(seq), 0) FROM events WHERE device_id = $1",
                                pg::params(device_id)));
    return rows.int64(0, 0);
}

Result<void> reissue_token(pg::Connection& conn, std::string_view device_id,
                           const std::string& token) {
    return conn.run("UPDATE enrolled_devices SET token_hash = $1"
                    " WHERE device_id = $2 AND first_used_at IS NULL",
                    pg::params(hash_secret(token), device_id));
}

// The enrollment of `device_id` as stored with `token`, once `tx` committed.
ApiResult<Enrollment> commit_enrollment(pg::Connection& conn, pg::Transaction& tx,
                                        std::string_view device_id, std::string token) {
    return rules::enrollment_answer(
        load_device(conn, device_id), [&] { return tx.commit(); }, std::move(token));
}

// bytea in PostgreSQL's hex form ("\x4142"), both ways.
std::string to_hex_bytea(std::string_view bytes) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out = "\\x";
    out.reserve(2 + bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(k_digits[c >> 4]);
        out.push_back(k_digits[c & 15]);
    }
    return out;
}

std::string from_hex_bytea(std::string_view text) {
    auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    std::string out;
    if (text.substr(0, 2) != "\\x") {
        return out;
    }
    for (std::size_t i = 2; i + 1 < text.size(); i += 2) {
        out.push_back(static_cast<char>((nibble(text[i]) << 4) | nibble(text[i + 1])));
    }
    return out;
}

std::int64_t system_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<std::string> read_epoch(pg::Connection& conn) {
    CARAVAN_TRY(rows, conn.exec("SELECT value FROM meta WHERE key = 'epoch'"));
    if (rows.empty()) {
        return fail(ErrorCode::corrupt, "the PostgreSQL store has no epoch");
    }
    return rows.text(0, 0);
}

// Removes the cache files of other epochs from `dir` (a restore's new epoch left them behind:
// nothing reads them again). Best effort: a file that cannot be removed stays.
void remove_other_caches(const fs::path& dir, const std::string& epoch) {
    const std::string keep = "cache-" + epoch + ".db";
    std::error_code ec;
    std::vector<fs::path> stale;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        const bool ours = name.rfind("cache-", 0) == 0 && name.find(".db") != std::string::npos;
        if (ours && name.rfind(keep, 0) != 0) {
            stale.push_back(entry.path());
        }
    }
    for (const fs::path& file : stale) {
        fs::remove(file, ec);
    }
}

// The cache file of the feed with `epoch`, created and installed when missing; the files of
// other epochs removed.
Result<storage::Database> open_cache(const fs::path& dir, const std::string& epoch,
                                     std::int64_t now_ms) {
    remove_other_caches(dir, epoch);
    storage::OpenOptions o;
    o.integrity_check = false;
    o.application_id = k_server_application_id;
    CARAVAN_TRY(db, storage::Database::open(dir / ("cache-" + epoch + ".db"), o));
    CARAVAN_TRY_VOID(Store::install(db, now_ms));
    // The cache answers pulls with the feed's epoch.
    CARAVAN_TRY_VOID(db.query("UPDATE meta SET value = ? WHERE key = 'epoch'", epoch).run());
    return std::move(db);
}

} // namespace

// ---- the registry ----------------------------------------------------------------------------

PgDeviceRegistry::PgDeviceRegistry(pg::Pool& pool, std::function<std::int64_t()> clock)
    : m_pool(pool), m_clock(std::move(clock)) {}

Result<std::string> PgDeviceRegistry::create_code(const CodeRequest& request) {
    CARAVAN_TRY(made, rules::new_code(request, m_clock()));
    CARAVAN_TRY(conn, m_pool.acquire());
    CARAVAN_TRY_VOID(conn->run("INSERT INTO enrollment_codes(code_hash, lawyer, role, regions,"
                               " created_at, expires_at) VALUES($1, $2, $3, $4, $5, $6)",
                               pg::params(made.code_hash, made.lawyer, made.role, made.regions_json,
                                          made.created_at, made.expires_at)));
    return made.code;
}

Result<std::vector<DeviceRecord>> PgDeviceRegistry::devices() {
    static const std::string sql = "SELECT " + std::string(k_device_columns) +
                                   " FROM enrolled_devices ORDER BY enrolled_at, device_id"
                                   " COLLATE \"C\"";
    CARAVAN_TRY(conn, m_pool.acquire());
    CARAVAN_TRY(rows, conn->exec(sql));
    std::vector<DeviceRecord> list;
    for (int i = 0; i < rows.size(); ++i) {
        list.push_back(read_device(rows, i));
    }
    return list;
}

Result<DeviceRecord> PgDeviceRegistry::revoke(std::string_view ref_in) {
    CARAVAN_TRY(ref, rules::revoke_ref(ref_in));
    CARAVAN_TRY(conn, m_pool.acquire());
    CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
    CARAVAN_TRY(rows, conn->exec("SELECT device_id FROM enrolled_devices WHERE device_id = $1"
                                 " OR right(device_id, length($1)) = $1 FOR UPDATE",
                                 pg::params(ref)));
    std::vector<std::string> ids;
    for (int i = 0; i < rows.size(); ++i) {
        ids.push_back(rows.text(i, 0));
    }
    CARAVAN_TRY(id, rules::pick_device(ids, ref));
    CARAVAN_TRY_VOID(conn->run("UPDATE enrolled_devices SET revoked_at = coalesce(revoked_at, $1)"
                               " WHERE device_id = $2",
                               pg::params(m_clock(), id)));
    CARAVAN_TRY(device, load_device(*conn, id));
    CARAVAN_TRY_VOID(tx.commit());
    return *device;
}

ApiResult<Enrollment> PgDeviceRegistry::enroll(std::string_view code_in, std::string_view device_id,
                                               const SyncReport& report) {
    auto code_hash = rules::enrollment_code_hash(code_in, device_id);
    if (!code_hash) {
        return tl::unexpected(code_hash.error());
    }
    auto run = [&]() -> Result<ApiResult<Enrollment>> {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
        // The code's row stays locked to the end: a code is used once, across processes.
        CARAVAN_TRY(rows,
                    conn->exec("SELECT code_hash, lawyer, role, regions, expires_at, used_at,"
                               " used_by FROM enrollment_codes WHERE code_hash = $1 FOR UPDATE",
                               pg::params(*code_hash)));
        std::optional<rules::CodeRow> code;
        if (!rows.empty()) {
            code = rules::CodeRow{rows.text(0, 0),    rows.text(0, 1),  rows.text(0, 2),
                                  rows.text(0, 3),    rows.int64(0, 4), rows.opt_int64(0, 5),
                                  rows.opt_text(0, 6)};
        }
        const std::int64_t now = m_clock();
        auto device = rules::enrolled_device(code, *code_hash, device_id, now);
        if (!device) {
            return ApiResult<Enrollment>(tl::unexpected(device.error()));
        }
        CARAVAN_TRY(known, load_device(*conn, device_id, true));
        CARAVAN_TRY(held, held_seq(*conn, device_id));
        auto write = rules::judge_enrollment(*code, device_id, known, held);
        if (!write) {
            return ApiResult<Enrollment>(tl::unexpected(write.error()));
        }
        std::string token = new_token();
        if (*write == rules::Write::reissue) {
            CARAVAN_TRY_VOID(reissue_token(*conn, device->device_id, token));
        } else {
            CARAVAN_TRY_VOID(conn->run(
                "INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
                " enrolled_at, app_version) VALUES($1, $2, $3, $4, $5, $6, $7)",
                pg::params(device->device_id, device->lawyer, std::string(to_string(device->role)),
                           rules::regions_json(device->regions), hash_secret(token), now,
                           report.app_version)));
            CARAVAN_TRY_VOID(conn->run(
                "UPDATE enrollment_codes SET used_at = $1, used_by = $2 WHERE code_hash = $3",
                pg::params(now, device->device_id, *code_hash)));
        }
        return commit_enrollment(*conn, tx, device->device_id, std::move(token));
    };
    auto done = run();
    if (!done && done.error().code == ErrorCode::conflict) {
        // Another process enrolled the same id at the same moment (its row won the unique key).
        return refuse(codes::device_id_taken,
                      "this device id is already known to the server and cannot be enrolled"
                      " again; a device that needs a new enrollment needs a new device id");
    }
    if (!done) {
        return tl::unexpected(internal(done.error()));
    }
    return std::move(*done);
}

ApiResult<DeviceRecord> PgDeviceRegistry::authenticate(std::string_view token, bool allow_rotated) {
    if (!is_token_syntax(token)) {
        return refuse(codes::unauthenticated, "unknown or malformed token");
    }
    const std::string token_hash = hash_secret(token);
    static const std::string sql = "SELECT " + std::string(k_device_columns) +
                                   ", token_hash FROM enrolled_devices WHERE token_hash = $1";
    auto run = [&]() -> Result<ApiResult<DeviceRecord>> {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(rows, conn->exec(sql, pg::params(token_hash)));
        if (rows.empty() || !same_hash(rows.text(0, 15), token_hash)) {
            return ApiResult<DeviceRecord>(
                refuse(codes::unauthenticated, "unknown or malformed token"));
        }
        DeviceRecord device = read_device(rows, 0);
        if (auto ok = rules::usable(device, allow_rotated); !ok) {
            return ApiResult<DeviceRecord>(tl::unexpected(ok.error()));
        }
        if (device.spoken()) {
            return ApiResult<DeviceRecord>(std::move(device));
        }
        // The device speaks for the first time (see SqliteDeviceRegistry::authenticate): tied
        // to this token, so a repeat that replaced it in between leaves nothing marked.
        const std::int64_t now = m_clock();
        CARAVAN_TRY(marked, conn->exec("UPDATE enrolled_devices SET first_used_at = $1"
                                       " WHERE device_id = $2 AND token_hash = $3"
                                       " AND first_used_at IS NULL",
                                       pg::params(now, device.device_id, token_hash)));
        if (marked.affected() == 1) {
            device.first_used_at_ms = now;
            return ApiResult<DeviceRecord>(std::move(device));
        }
        // Marked by a concurrent request of this device, or the token was replaced.
        CARAVAN_TRY(again, conn->exec("SELECT first_used_at FROM enrolled_devices"
                                      " WHERE device_id = $1 AND token_hash = $2"
                                      " AND first_used_at IS NOT NULL",
                                      pg::params(device.device_id, token_hash)));
        if (again.empty()) {
            return ApiResult<DeviceRecord>(
                refuse(codes::unauthenticated, "unknown or malformed token"));
        }
        device.first_used_at_ms = again.int64(0, 0);
        return ApiResult<DeviceRecord>(std::move(device));
    };
    auto done = run();
    if (!done) {
        return tl::unexpected(internal(done.error()));
    }
    return std::move(*done);
}

ApiResult<Enrollment> PgDeviceRegistry::rotate(const DeviceRecord& device,
                                               std::string_view new_device_id,
                                               const SyncReport& report) {
    if (auto ok = rules::check_new_id(device, new_device_id); !ok) {
        return tl::unexpected(ok.error());
    }
    auto run = [&]() -> Result<ApiResult<Enrollment>> {
        CARAVAN_TRY(conn, m_pool.acquire());
        CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
        // The old id's row stays locked: a concurrent revoke, rotation or push waits.
        CARAVAN_TRY(fresh_row, load_device(*conn, device.device_id, true));
        auto fresh = rules::current(std::move(fresh_row));
        if (!fresh) {
            return ApiResult<Enrollment>(tl::unexpected(fresh.error()));
        }
        const DeviceRecord& old = *fresh;
        CARAVAN_TRY(known, load_device(*conn, new_device_id, true));
        CARAVAN_TRY(held, held_seq(*conn, new_device_id));
        auto write = rules::judge_rotation(old, new_device_id, known, held);
        if (!write) {
            return ApiResult<Enrollment>(tl::unexpected(write.error()));
        }
        const std::int64_t now = m_clock();
        std::string token = new_token();
        if (*write == rules::Write::reissue) {
            CARAVAN_TRY_VOID(reissue_token(*conn, new_device_id, token));
        } else {
            CARAVAN_TRY_VOID(conn->run(
                "INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
                " enrolled_at, app_version, predecessor) VALUES($1, $2, $3, $4, $5, $6, $7, $8)",
                pg::params(new_device_id, old.lawyer, std::string(to_string(old.role)),
                           rules::regions_json(old.regions), hash_secret(token), now,
                           report.app_version, old.device_id)));
            CARAVAN_TRY_VOID(conn->run("UPDATE enrolled_devices SET successor = $1,"
                                       " rotated_at = $2 WHERE device_id = $3",
                                       pg::params(new_device_id, now, old.device_id)));
        }
        return commit_enrollment(*conn, tx, new_device_id, std::move(token));
    };
    auto done = run();
    if (!done && done.error().code == ErrorCode::conflict) {
        return refuse(codes::device_id_taken,
                      "\"new_device_id\" is already known to the server; an id is enrolled once");
    }
    if (!done) {
        return tl::unexpected(internal(done.error()));
    }
    return std::move(*done);
}

namespace {

Result<void> update_report(pg::Connection& conn, const std::string& device_id,
                           const SyncReport& report, bool pushed,
                           std::optional<std::int64_t> acked_seq, std::int64_t now_ms) {
    return conn.run(
        "UPDATE enrolled_devices SET acked_seq = coalesce($2::bigint, acked_seq),"
        " last_push_at = CASE WHEN $3::boolean THEN $4::bigint ELSE last_push_at END,"
        " last_pull_at = CASE WHEN $3::boolean THEN last_pull_at ELSE $4::bigint END,"
        " last_sync_at = $4::bigint,"
        " app_version = coalesce($5::text, app_version),"
        " queue_depth = coalesce($6::bigint, queue_depth),"
        " oldest_unsynced = CASE WHEN $7::boolean THEN $8::text WHEN $6::bigint = 0 THEN NULL"
        "  ELSE oldest_unsynced END"
        " WHERE device_id = $1",
        pg::params(device_id, acked_seq, pushed, now_ms, report.app_version, report.queue_depth,
                   report.has_oldest_unsynced, report.oldest_unsynced));
}

} // namespace

Result<void> PgDeviceRegistry::record_pull(const DeviceRecord& device, const SyncReport& report) {
    CARAVAN_TRY(conn, m_pool.acquire());
    return update_report(*conn, device.device_id, report, false, std::nullopt, m_clock());
}

Result<void> PgDeviceRegistry::record_push(pg::Connection& conn, const DeviceRecord& device,
                                           const SyncReport& report, std::int64_t acked_seq,
                                           std::int64_t now_ms) {
    return update_report(conn, device.device_id, report, true, acked_seq, now_ms);
}

Result<std::optional<DeviceRecord>> PgDeviceRegistry::lock_device(pg::Connection& conn,
                                                                  std::string_view device_id) {
    return load_device(conn, device_id, true);
}

Result<std::string> PgDeviceRegistry::lineage_json(const DeviceRecord& device) {
    json ids = json::array({device.device_id});
    std::optional<std::string> next = device.predecessor;
    if (!next) {
        return ids.dump();
    }
    CARAVAN_TRY(conn, m_pool.acquire());
    // Bounded: a chain longer than this would be a bug (or a loop), not a real history.
    for (int hop = 0; next && hop < 64; ++hop) {
        if (std::find(ids.begin(), ids.end(), json(*next)) != ids.end()) {
            break;
        }
        ids.push_back(*next);
        CARAVAN_TRY(before, load_device(*conn, *next));
        next = before ? before->predecessor : std::nullopt;
    }
    return ids.dump();
}

Result<std::int64_t> PgDeviceRegistry::enroll_wait_s(std::string_view address,
                                                     std::size_t max_failures,
                                                     std::int64_t window_ms) {
    return pg::failure_wait_s(m_pool, k_enroll_failures, address, max_failures, window_ms,
                              m_clock());
}

Result<void> PgDeviceRegistry::record_enroll_failure(std::string_view address,
                                                     std::int64_t window_ms) {
    return pg::record_failure(m_pool, k_enroll_failures, address, window_ms, m_clock());
}

// ---- the feed --------------------------------------------------------------------------------

PgEventFeed::PgEventFeed(pg::Pool& pool, PgDeviceRegistry& registry, storage::Database& cache,
                         std::function<std::int64_t()> clock)
    : m_pool(pool), m_registry(registry), m_cache(cache), m_log(cache), m_projector(cache),
      m_reader(cache, registry, nullptr, clock), m_clock(std::move(clock)) {}

Result<std::string> PgEventFeed::epoch() {
    CARAVAN_TRY(conn, m_pool.acquire());
    return read_epoch(*conn);
}

Result<void> PgEventFeed::catch_up(pg::Connection& conn) {
    CARAVAN_TRY(head, m_reader.head());
    for (;;) {
        CARAVAN_TRY(rows, conn.exec("SELECT log_position, device_id, seq, hlc, entity_type,"
                                    " entity_id, op, payload, schema_version, reference,"
                                    " region_key FROM events WHERE log_position > $1"
                                    " ORDER BY log_position LIMIT $2",
                                    pg::params(head, k_catch_up_batch)));
        for (int i = 0; i < rows.size(); ++i) {
            Event e;
            const std::int64_t position = rows.int64(i, 0);
            e.device_id = rows.text(i, 1);
            e.seq = rows.int64(i, 2);
            e.hlc = rows.int64(i, 3);
            e.entity_type = rows.text(i, 4);
            e.entity_id = rows.text(i, 5);
            e.op = rows.text(i, 6);
            e.payload = rows.text(i, 7);
            e.schema_version = static_cast<int>(rows.int64(i, 8));
            CARAVAN_TRY(appended, m_log.append(e));
            if (!appended || e.log_position != position) {
                return fail(ErrorCode::corrupt,
                            "the projection cache does not follow the PostgreSQL feed at " +
                                std::to_string(position) + " (delete the cache file)");
            }
            CARAVAN_TRY_VOID(m_projector.apply(e, json::parse(e.payload, nullptr, false)));
            CARAVAN_TRY_VOID(m_cache
                                 .query("INSERT INTO event_scope(log_position, reference,"
                                        " region_key) VALUES(?, ?, ?)",
                                        position, rows.boolean(i, 9), rows.opt_text(i, 10))
                                 .run());
            head = position;
        }
        if (rows.size() < k_catch_up_batch) {
            break;
        }
    }
    CARAVAN_TRY(
        seen, m_cache.query("SELECT value FROM meta WHERE key = 'pg_rejected'").one<std::string>());
    std::int64_t rejected = seen ? std::stoll(*seen) : 0;
    CARAVAN_TRY(rows, conn.exec("SELECT rejected_no, device_id, seq, hlc, entity_type,"
                                " entity_id, op, payload, schema_version, code, message,"
                                " received_at FROM rejected_events WHERE rejected_no > $1"
                                " ORDER BY rejected_no",
                                pg::params(rejected)));
    for (int i = 0; i < rows.size(); ++i) {
        CARAVAN_TRY_VOID(
            m_cache
                .query("INSERT INTO rejected_events(device_id, seq, hlc, entity_type, entity_id,"
                       " op, payload, schema_version, code, message, received_at)"
                       " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       rows.text(i, 1), rows.int64(i, 2), rows.int64(i, 3),
                       from_hex_bytea(rows.text(i, 4)), from_hex_bytea(rows.text(i, 5)),
                       from_hex_bytea(rows.text(i, 6)), from_hex_bytea(rows.text(i, 7)),
                       rows.int64(i, 8), rows.text(i, 9), rows.text(i, 10), rows.int64(i, 11))
                .run());
        rejected = rows.int64(i, 0);
    }
    return m_cache
        .query("INSERT INTO meta(key, value) VALUES('pg_rejected', ?)"
               " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               std::to_string(rejected))
        .run();
}

Result<void> PgEventFeed::refresh() {
    CARAVAN_TRY(conn, m_pool.acquire());
    CARAVAN_TRY(tx, storage::Transaction::begin(m_cache));
    CARAVAN_TRY_VOID(catch_up(*conn));
    return tx.commit();
}

ApiResult<PushResponse> PgEventFeed::push(const DeviceRecord& device, const PushRequest& request,
                                          const SyncReport& report) {
    if (auto valid = validate_push(device, request); !valid) {
        return tl::unexpected(valid.error());
    }
    auto lease = m_pool.acquire();
    if (!lease) {
        return tl::unexpected(internal(lease.error()));
    }
    pg::Connection& conn = **lease;
    auto tx = pg::Transaction::begin(conn);
    if (!tx) {
        return tl::unexpected(internal(tx.error()));
    }
    // The device's row first (a concurrent revoke, rotation or push of this device waits),
    // then the feed's head, held to the commit: positions are handed out in commit order.
    auto locked = PgDeviceRegistry::lock_device(conn, device.device_id);
    if (!locked) {
        return tl::unexpected(internal(locked.error()));
    }
    auto me = rules::current(std::move(*locked));
    if (!me) {
        return tl::unexpected(me.error());
    }
    if (auto ok = rules::may_push(*me); !ok) {
        return tl::unexpected(ok.error());
    }
    auto head = conn.exec("SELECT last_position, last_rejected FROM feed_head WHERE id = 1"
                          " FOR UPDATE");
    if (!head || head->empty()) {
        return tl::unexpected(
            internal(head ? Error{ErrorCode::corrupt, "feed_head is missing"} : head.error()));
    }
    const std::int64_t last_position = head->int64(0, 0);
    std::int64_t last_rejected = head->int64(0, 1);
    auto epoch_value = read_epoch(conn);
    if (!epoch_value) {
        return tl::unexpected(internal(epoch_value.error()));
    }
    auto cache_tx = storage::Transaction::begin(m_cache);
    if (!cache_tx) {
        return tl::unexpected(internal(cache_tx.error()));
    }
    if (auto ok = catch_up(conn); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    auto cache_head = m_reader.head();
    if (!cache_head || *cache_head != last_position) {
        return tl::unexpected(internal(
            cache_head ? Error{ErrorCode::corrupt, "the projection cache is ahead of the feed"}
                       : cache_head.error()));
    }
    const std::int64_t now = m_clock();
    auto ingest = Ingest::prepare(m_cache, m_log, m_projector, *me, now);
    if (!ingest) {
        return tl::unexpected(internal(ingest.error()));
    }
    PushResponse response;
    response.epoch = *epoch_value;
    if (auto ok = ingest->take_all(request.events, response.results); !ok) {
        return tl::unexpected(ok.error());
    }
    // What the cache decided, written to PostgreSQL in the same order.
    std::int64_t position = last_position;
    auto write = [&]() -> Result<void> {
        // The accepted events as columns, written in one statement.
        std::vector<pg::Param> columns[11];
        for (std::size_t i = 0; i < request.events.size(); ++i) {
            const Event& e = request.events[i];
            const EventResult& r = response.results[i];
            if (r.fate == EventFate::accepted) {
                CARAVAN_TRY(scope, m_cache
                                       .query("SELECT reference, region_key FROM event_scope"
                                              " WHERE log_position = ?",
                                              *r.server_seq)
                                       .collect([](const storage::Statement& row) {
                                           return std::pair(row.get<bool>(0),
                                                            row.get<std::optional<std::string>>(1));
                                       }));
                if (scope.size() != 1 || *r.server_seq != position + 1) {
                    return fail(ErrorCode::internal, "accepted event out of position");
                }
                position = *r.server_seq;
                const std::vector<pg::Param> row =
                    pg::params(position, e.device_id, e.seq, e.hlc, e.entity_type, e.entity_id,
                               e.op, e.payload, e.schema_version, scope[0].first, scope[0].second);
                for (std::size_t c = 0; c < row.size(); ++c) {
                    columns[c].push_back(row[c]);
                }
            } else if (r.fate == EventFate::rejected) {
                CARAVAN_TRY_VOID(conn.run(
                    "INSERT INTO rejected_events(rejected_no, device_id, seq, hlc, entity_type,"
                    " entity_id, op, payload, schema_version, code, message, received_at)"
                    " VALUES($1, $2, $3, $4, $5::bytea, $6::bytea, $7::bytea, $8::bytea, $9, $10,"
                    " $11, $12)",
                    pg::params(++last_rejected, e.device_id, e.seq, e.hlc,
                               to_hex_bytea(e.entity_type), to_hex_bytea(e.entity_id),
                               to_hex_bytea(e.op), to_hex_bytea(e.payload), e.schema_version,
                               r.code, r.message, now)));
            }
        }
        if (!columns[0].empty()) {
            std::vector<pg::Param> arrays;
            for (const auto& column : columns) {
                arrays.push_back(pg::array(column));
            }
            CARAVAN_TRY_VOID(conn.run(
                "INSERT INTO events(log_position, device_id, seq, hlc, entity_type, entity_id, op,"
                " payload, schema_version, reference, region_key)"
                " SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[],"
                " $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::boolean[],"
                " $11::text[])",
                arrays));
        }
        CARAVAN_TRY_VOID(
            conn.run("UPDATE feed_head SET last_position = $1, last_rejected = $2 WHERE id = 1",
                     pg::params(position, last_rejected)));
        CARAVAN_TRY_VOID(PgDeviceRegistry::record_push(conn, *me, report, ingest->acked(), now));
        CARAVAN_TRY_VOID(m_cache
                             .query("UPDATE meta SET value = ? WHERE key = 'pg_rejected'",
                                    std::to_string(last_rejected))
                             .run());
        return tx->commit();
    };
    if (auto ok = write(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    // PostgreSQL holds the push now; a cache that fails to commit catches up later.
    (void)cache_tx->commit();
    response.acked_seq = ingest->acked();
    return response;
}

ApiResult<PullResponse> PgEventFeed::pull(const DeviceRecord& device, std::int64_t after,
                                          std::int64_t limit, std::string_view device_epoch,
                                          std::int64_t own_upto) {
    if (auto ok = refresh(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    return m_reader.pull(device, after, limit, device_epoch, own_upto);
}

ApiResult<VerifyResult> PgEventFeed::verify(const DeviceRecord& device,
                                            std::optional<std::int64_t> upto) {
    if (auto ok = refresh(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    return m_reader.verify(device, upto);
}

ApiResult<StatusResult> PgEventFeed::status(const DeviceRecord& device) {
    if (auto ok = refresh(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    return m_reader.status(device);
}

Result<std::vector<client::ConflictEntry>> PgEventFeed::conflicts() {
    CARAVAN_TRY_VOID(refresh());
    return m_reader.conflicts();
}

// ---- the store -------------------------------------------------------------------------------

namespace {

class PgStore final : public Store {
  public:
    PgStore(std::shared_ptr<pg::Pool> pool, storage::Database cache, std::string epoch,
            StoreOptions options)
        : m_pool(std::move(pool)), m_cache(std::move(cache)), m_epoch(std::move(epoch)),
          m_options(std::move(options)), m_registry(*m_pool, m_options.clock),
          m_feed(*m_pool, m_registry, m_cache, m_options.clock),
          m_accounts(pg_account_store(*m_pool)) {}

    [[nodiscard]] std::int64_t now_ms() const override { return m_options.clock(); }
    [[nodiscard]] DeviceRegistry& registry() override { return m_registry; }
    [[nodiscard]] EventFeed& feed() override {
        // A restore renews the epoch: its feed starts a new cache (best effort here; the
        // feed's own operations check again).
        (void)follow_epoch();
        return m_feed;
    }
    [[nodiscard]] AccountStore& accounts() override { return *m_accounts; }
    [[nodiscard]] Result<void> refresh() override {
        CARAVAN_TRY_VOID(follow_epoch());
        return m_feed.refresh();
    }
    [[nodiscard]] Result<std::string> server_device(std::string_view proposed) override {
        CARAVAN_TRY(conn, m_pool->acquire());
        // ON CONFLICT waits for a concurrent claim to commit; the next statement then sees it.
        if (!proposed.empty()) {
            CARAVAN_TRY_VOID(conn->run("INSERT INTO meta(key, value) VALUES('server_device', $1)"
                                       " ON CONFLICT (key) DO NOTHING",
                                       pg::params(std::string(proposed))));
        }
        CARAVAN_TRY(rows, conn->exec("SELECT value FROM meta WHERE key = 'server_device'"));
        return rows.empty() ? std::string() : rows.text(0, 0);
    }
    storage::Database& database() override { return m_cache; }

  private:
    Result<void> follow_epoch() {
        CARAVAN_TRY(conn, m_pool->acquire());
        CARAVAN_TRY(epoch, read_epoch(*conn));
        if (epoch == m_epoch) {
            return {};
        }
        CARAVAN_TRY(cache, open_cache(m_options.cache_dir, epoch, m_options.clock()));
        m_cache = std::move(cache);
        m_epoch = epoch;
        return {};
    }

    std::shared_ptr<pg::Pool> m_pool;
    storage::Database m_cache;
    std::string m_epoch;
    StoreOptions m_options;
    PgDeviceRegistry m_registry;
    PgEventFeed m_feed;
    std::unique_ptr<AccountStore> m_accounts;
};

Result<void> install_pg(pg::Connection& conn, std::int64_t now_ms) {
    CARAVAN_TRY(tx, pg::Transaction::begin(conn));
    // One installer at a time across processes (released at commit).
    CARAVAN_TRY_VOID(conn.run("SELECT pg_advisory_xact_lock(4352525653)"));
    // No DDL at all once the schema is current: the servers may then run as a role without
    // CREATE (docs/operations.md, least privilege).
    CARAVAN_TRY(exists, conn.exec("SELECT to_regclass('caravan_schema') IS NOT NULL"));
    if (!exists.boolean(0, 0)) {
        CARAVAN_TRY_VOID(conn.run_script("CREATE TABLE caravan_schema(version integer NOT NULL)"));
    }
    CARAVAN_TRY(rows, conn.exec("SELECT coalesce(max(version), 0) FROM caravan_schema"));
    const std::int64_t version = rows.int64(0, 0);
    for (const PgMigration& m : k_pg_migrations) {
        if (m.version > version) {
            CARAVAN_TRY_VOID(conn.run_script(m.sql));
            CARAVAN_TRY_VOID(
                conn.run("INSERT INTO caravan_schema(version) VALUES($1)", pg::params(m.version)));
        }
    }
    CARAVAN_TRY_VOID(conn.run("INSERT INTO meta(key, value) VALUES('epoch', $1),"
                              " ('created_at', $2) ON CONFLICT(key) DO NOTHING",
                              pg::params(random_hex(8), iso_utc(now_ms))));
    return tx.commit();
}

} // namespace

Result<std::unique_ptr<Store>> Store::open_postgresql(std::shared_ptr<pg::Pool> pool,
                                                      StoreOptions options) {
    if (!options.clock) {
        options.clock = system_clock_ms;
    }
    std::string epoch;
    {
        CARAVAN_TRY(conn, pool->acquire());
        if (options.migrate && !options.read_only) {
            CARAVAN_TRY_VOID(install_pg(*conn, options.clock()));
        }
        auto read = read_epoch(*conn);
        if (!read) {
            return fail(ErrorCode::corrupt, pg::redact(pool->url()) +
                                                " is not a Caravan server database (" +
                                                read.error().message + ")");
        }
        epoch = *read;
    }
    CARAVAN_TRY(cache, open_cache(options.cache_dir, epoch, options.clock()));
    return std::unique_ptr<Store>(
        new PgStore(std::move(pool), std::move(cache), std::move(epoch), std::move(options)));
}

// ---- migration from the embedded store -----------------------------------------------------

Result<MigrateResult> migrate_to_postgresql(const fs::path& data_dir, pg::Pool& pool) {
    CARAVAN_TRY(lock, DataDirLock::acquire(data_dir));
    (void)lock;
    storage::OpenOptions o;
    o.create = false;
    o.application_id = k_server_application_id;
    CARAVAN_TRY(db, storage::Database::open(database_path(data_dir), o));
    CARAVAN_TRY(conn, pool.acquire());
    CARAVAN_TRY_VOID(install_pg(*conn, system_clock_ms()));
    CARAVAN_TRY(tx, pg::Transaction::begin(*conn));
    CARAVAN_TRY(used, conn->exec("SELECT (SELECT last_position + last_rejected FROM feed_head)"
                                 " + (SELECT count(*) FROM enrolled_devices)"
                                 " + (SELECT count(*) FROM enrollment_codes)"
                                 " + (SELECT count(*) FROM accounts) FROM feed_head"
                                 " FOR UPDATE"));
    if (used.int64(0, 0) != 0) {
        return fail(ErrorCode::conflict, "the PostgreSQL store at " + pg::redact(pool.url()) +
                                             " is not empty: migrate into a new database");
    }
    MigrateResult result;
    // The server's own device (the dashboard's writer) stays the same device.
    CARAVAN_TRY_VOID(
        db.query("SELECT key, value FROM meta WHERE key IN ('epoch', 'created_at',"
                 " 'server_device')")
            .each([&](const storage::Statement& row) -> Result<void> {
                if (row.get<std::string>(0) == "epoch") {
                    result.epoch = row.get<std::string>(1);
                }
                return conn->run("INSERT INTO meta(key, value) VALUES($1, $2)"
                                 " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                                 pg::params(row.get<std::string>(0), row.get<std::string>(1)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT code_hash, lawyer, role, regions, created_at, expires_at, used_at,"
                 " used_by FROM enrollment_codes")
            .each([&](const storage::Statement& row) -> Result<void> {
                ++result.codes;
                return conn->run("INSERT INTO enrollment_codes VALUES($1,$2,$3,$4,$5,$6,$7,$8)",
                                 pg::params(row.get<std::string>(0), row.get<std::string>(1),
                                            row.get<std::string>(2), row.get<std::string>(3),
                                            row.get<std::int64_t>(4), row.get<std::int64_t>(5),
                                            row.get<std::optional<std::int64_t>>(6),
                                            row.get<std::optional<std::string>>(7)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT device_id, lawyer, role, regions, token_hash, enrolled_at, revoked_at,"
                 " acked_seq, last_push_at, last_pull_at, last_sync_at, app_version, queue_depth,"
                 " oldest_unsynced, successor, predecessor, rotated_at, first_used_at"
                 " FROM enrolled_devices")
            .each([&](const storage::Statement& row) -> Result<void> {
                ++result.devices;
                using Int = std::optional<std::int64_t>;
                using Text = std::optional<std::string>;
                return conn->run(
                    "INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
                    " enrolled_at, revoked_at, acked_seq, last_push_at, last_pull_at,"
                    " last_sync_at, app_version, queue_depth, oldest_unsynced, successor,"
                    " predecessor, rotated_at, first_used_at) VALUES($1,$2,$3,$4,$5,$6,$7,$8,"
                    "$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)",
                    pg::params(
                        row.get<std::string>(0), row.get<std::string>(1), row.get<std::string>(2),
                        row.get<std::string>(3), row.get<std::string>(4), row.get<std::int64_t>(5),
                        row.get<Int>(6), row.get<std::int64_t>(7), row.get<Int>(8), row.get<Int>(9),
                        row.get<Int>(10), row.get<Text>(11), row.get<Int>(12), row.get<Text>(13),
                        row.get<Text>(14), row.get<Text>(15), row.get<Int>(16), row.get<Int>(17)));
            }));
    // The dashboard's accounts as they are (the hash, not a password, is copied), their open
    // sessions, and the audit log in its order.
    CARAVAN_TRY_VOID(
        db.query("SELECT name, role, regions, password_hash, created_at, settings FROM accounts"
                 " ORDER BY name")
            .each([&](const storage::Statement& row) -> Result<void> {
                ++result.accounts;
                return conn->run("INSERT INTO accounts(name, role, regions, password_hash,"
                                 " created_at, settings) VALUES($1,$2,$3,$4,$5,$6)",
                                 pg::params(row.get<std::string>(0), row.get<std::string>(1),
                                            row.get<std::string>(2), row.get<std::string>(3),
                                            row.get<std::int64_t>(4), row.get<std::string>(5)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT id_hash, account, csrf, created_at, last_seen_at FROM account_sessions")
            .each([&](const storage::Statement& row) -> Result<void> {
                return conn->run("INSERT INTO account_sessions(id_hash, account, csrf,"
                                 " created_at, last_seen_at) VALUES($1,$2,$3,$4,$5)",
                                 pg::params(row.get<std::string>(0), row.get<std::string>(1),
                                            row.get<std::string>(2), row.get<std::int64_t>(3),
                                            row.get<std::int64_t>(4)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT at, account, action, detail FROM audit_log ORDER BY id")
            .each([&](const storage::Statement& row) -> Result<void> {
                ++result.audit_entries;
                return conn->run("INSERT INTO audit_log(at, account, action, detail)"
                                 " VALUES($1,$2,$3,$4)",
                                 pg::params(row.get<std::int64_t>(0), row.get<std::string>(1),
                                            row.get<std::string>(2), row.get<std::string>(3)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT e.log_position, e.device_id, e.seq, e.hlc, e.entity_type, e.entity_id,"
                 " e.op, e.payload, e.schema_version, coalesce(s.reference, 0), s.region_key"
                 " FROM events e LEFT JOIN event_scope s ON s.log_position = e.log_position"
                 " ORDER BY e.log_position")
            .each([&](const storage::Statement& row) -> Result<void> {
                const std::int64_t position = row.get<std::int64_t>(0);
                if (position != result.events + 1) {
                    return fail(ErrorCode::corrupt, "the feed's positions are not 1..n (at " +
                                                        std::to_string(position) +
                                                        "): run `caravan-server check`");
                }
                ++result.events;
                return conn->run(
                    "INSERT INTO events(log_position, device_id, seq, hlc, entity_type,"
                    " entity_id, op, payload, schema_version, reference, region_key)"
                    " VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                    pg::params(position, row.get<std::string>(1), row.get<std::int64_t>(2),
                               row.get<std::int64_t>(3), row.get<std::string>(4),
                               row.get<std::string>(5), row.get<std::string>(6),
                               row.get<std::string>(7), row.get<std::int64_t>(8), row.get<bool>(9),
                               row.get<std::optional<std::string>>(10)));
            }));
    CARAVAN_TRY_VOID(
        db.query("SELECT device_id, seq, hlc, entity_type, entity_id, op, payload,"
                 " schema_version, code, message, received_at FROM rejected_events"
                 " ORDER BY rowid")
            .each([&](const storage::Statement& row) -> Result<void> {
                return conn->run(
                    "INSERT INTO rejected_events(rejected_no, device_id, seq, hlc, entity_type,"
                    " entity_id, op, payload, schema_version, code, message, received_at)"
                    " VALUES($1,$2,$3,$4,$5::bytea,$6::bytea,$7::bytea,$8::bytea,$9,$10,$11,$12)",
                    pg::params(++result.rejected, row.get<std::string>(0), row.get<std::int64_t>(1),
                               row.get<std::int64_t>(2), to_hex_bytea(row.get<std::string>(3)),
                               to_hex_bytea(row.get<std::string>(4)),
                               to_hex_bytea(row.get<std::string>(5)),
                               to_hex_bytea(row.get<std::string>(6)), row.get<std::int64_t>(7),
                               row.get<std::string>(8), row.get<std::string>(9),
                               row.get<std::int64_t>(10)));
            }));
    CARAVAN_TRY_VOID(conn->run("UPDATE feed_head SET last_position = $1, last_rejected = $2",
                               pg::params(result.events, result.rejected)));
    CARAVAN_TRY_VOID(tx.commit());
    return result;
}

} // namespace caravan::sync::server
