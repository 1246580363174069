#include "caravan/sync/server/store.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "caravan/client/domain.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/migrations.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/server/credentials.hpp"

namespace caravan::sync::server {

using nlohmann::json;
using storage::Event;
using storage::Statement;

namespace {

const storage::Migration k_server_migrations[] = {
    {1, R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE enrollment_codes(
    code_hash  TEXT PRIMARY KEY,
    lawyer     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    used_by    TEXT
) STRICT;
CREATE TABLE enrolled_devices(
    device_id       TEXT PRIMARY KEY,
    lawyer          TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('lawyer', 'coordinator')),
    regions         TEXT NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    enrolled_at     INTEGER NOT NULL,
    revoked_at      INTEGER,
    acked_seq       INTEGER NOT NULL DEFAULT 0,
    last_push_at    INTEGER,
    last_pull_at    INTEGER,
    last_sync_at    INTEGER,
    app_version     TEXT,
    queue_depth     INTEGER,
    oldest_unsynced TEXT
) STRICT;
CREATE TABLE rejected_events(
    device_id      TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    hlc            INTEGER NOT NULL,
    entity_type    TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    op             TEXT NOT NULL,
    payload        TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    code           TEXT NOT NULL,
    message        TEXT NOT NULL,
    received_at    INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
) STRICT;
CREATE TABLE event_scope(
    log_position INTEGER PRIMARY KEY,
    reference    INTEGER NOT NULL,
    region_key   TEXT
) STRICT;
)sql"},
    // Device rotation: a device restored from an old backup continues under a new id.
    {2, R"sql(
ALTER TABLE enrolled_devices ADD COLUMN successor TEXT;
ALTER TABLE enrolled_devices ADD COLUMN predecessor TEXT;
ALTER TABLE enrolled_devices ADD COLUMN rotated_at INTEGER;
CREATE INDEX enrolled_devices_by_predecessor ON enrolled_devices(predecessor);
)sql"},
    // A device id is enrolled once (docs/security.md, "Device identity takeover"): when a device
    // first spoke with its own token. Devices enrolled before this count as having spoken.
    {3, R"sql(
ALTER TABLE enrolled_devices ADD COLUMN first_used_at INTEGER;
UPDATE enrolled_devices SET first_used_at = coalesce(last_sync_at, enrolled_at);
)sql"},
};

constexpr std::string_view k_device_columns =
    "device_id, lawyer, role, regions, enrolled_at, revoked_at, acked_seq, last_sync_at,"
    " app_version, queue_depth, oldest_unsynced, successor, predecessor, rotated_at,"
    " first_used_at";
// The column after k_device_columns in queries that add the token hash.
constexpr int k_token_hash_column = 15;

// Pulled events stop short of this many bytes of payload (plus a per-event allowance), far
// below the 8 MiB a peer accepts.
constexpr std::int64_t k_pull_budget_bytes = 4 << 20;
constexpr std::int64_t k_event_overhead_bytes = 256;
constexpr std::int64_t k_default_pull_limit = 1000;

std::int64_t system_clock_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

ApiError internal(const Error& error) {
    return api_error_from(error);
}

std::vector<std::string> parse_regions(const std::string& text) {
    std::vector<std::string> regions;
    json j = json::parse(text, nullptr, false);
    if (j.is_array()) {
        for (const json& r : j) {
            if (r.is_string()) {
                regions.push_back(r.get<std::string>());
            }
        }
    }
    return regions;
}

DeviceRecord read_device(const Statement& s) {
    DeviceRecord d;
    d.device_id = s.column_text(0);
    d.lawyer = s.column_text(1);
    d.role = parse_role(s.column_text(2)).value_or(Role::lawyer);
    d.regions = parse_regions(s.column_text(3));
    d.enrolled_at_ms = s.column_int(4);
    d.revoked_at_ms = s.column_opt_int(5);
    d.acked_seq = s.column_int(6);
    d.last_sync_ms = s.column_opt_int(7);
    d.app_version = s.column_opt_text(8);
    d.queue_depth = s.column_opt_int(9);
    d.oldest_unsynced = s.column_opt_text(10);
    d.successor = s.column_opt_text(11);
    d.predecessor = s.column_opt_text(12);
    d.rotated_at_ms = s.column_opt_int(13);
    d.first_used_at_ms = s.column_opt_int(14);
    return d;
}

std::string region_keys_json(const DeviceRecord& device) {
    json keys = json::array();
    for (const std::string& r : device.regions) {
        keys.push_back(region_key(r));
    }
    return keys.dump();
}

bool in_regions(const DeviceRecord& device, const std::string& region) {
    const std::string key = region_key(region);
    return std::any_of(device.regions.begin(), device.regions.end(),
                       [&](const std::string& r) { return region_key(r) == key; });
}

Event read_event(const Statement& s) {
    Event e;
    e.device_id = s.column_text(0);
    e.seq = s.column_int(1);
    e.hlc = s.column_int(2);
    e.entity_type = s.column_text(3);
    e.entity_id = s.column_text(4);
    e.op = s.column_text(5);
    e.payload = s.column_text(6);
    e.schema_version = static_cast<int>(s.column_int(7));
    e.log_position = s.column_int(8);
    e.server_seq = e.log_position;
    return e;
}

const json* string_field(const json& fields, std::string_view name) {
    auto it = fields.find(name);
    return it != fields.end() && it->is_string() ? &*it : nullptr;
}

} // namespace

// ---- vocabulary ------------------------------------------------------------------------------

std::string_view to_string(Role role) {
    return role == Role::coordinator ? "coordinator" : "lawyer";
}

std::optional<Role> parse_role(std::string_view text) {
    if (text == "lawyer") {
        return Role::lawyer;
    }
    if (text == "coordinator") {
        return Role::coordinator;
    }
    return std::nullopt;
}

std::string region_key(std::string_view region) {
    return client::fold_case(client::normalize_space(region));
}

std::string iso_utc(std::int64_t unix_ms) {
    std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms % 1000));
    return buf;
}

// ---- opening -------------------------------------------------------------------------------

struct Store::Placement {
    bool reference = false;            // villages and devices: everyone pulls them
    std::optional<std::string> before; // the record's region before this event, when known
    std::optional<std::string> after;  // and after it
};

Store::Store(storage::Database db, StoreOptions options)
    : m_db(std::move(db)), m_log(m_db), m_projector(m_db), m_options(std::move(options)) {
    if (!m_options.clock) {
        m_options.clock = system_clock_ms;
    }
}

std::int64_t Store::now_ms() const {
    return m_options.clock();
}

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& db_path,
                                           StoreOptions options) {
    storage::OpenOptions o;
    o.create = options.create;
    o.read_only = options.read_only;
    o.busy_timeout_ms = options.busy_timeout_ms;
    o.integrity_check = options.integrity_check;
    o.application_id = k_server_application_id;
    auto db = storage::Database::open(db_path, o);
    if (!db) {
        if (db.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_found,
                        "no server database at " + db_path.string() +
                            " (create one with `caravan-server enroll-code` or `serve`)");
        }
        return tl::unexpected(db.error());
    }
    std::unique_ptr<Store> store(new Store(std::move(*db), std::move(options)));
    if (store->m_options.migrate && !store->m_options.read_only) {
        if (auto ok = install(store->m_db, store->now_ms()); !ok) {
            return tl::unexpected(ok.error());
        }
    } else {
        auto version = storage::schema_version(store->m_db, "server");
        if (!version) {
            return tl::unexpected(version.error());
        }
        if (*version == 0) {
            return fail(ErrorCode::corrupt, db_path.string() + " is not a server database");
        }
    }
    return store;
}

Result<void> Store::install(storage::Database& db, std::int64_t now_ms) {
    if (auto ok = storage::EventLog::install(db); !ok) {
        return ok;
    }
    if (auto ok = client::Projector::install(db); !ok) {
        return ok;
    }
    if (auto ok = storage::migrate(db, "server", k_server_migrations); !ok) {
        return ok;
    }
    auto set = db.cached("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING");
    if (!set) {
        return tl::unexpected(set.error());
    }
    (*set)->bind_all("epoch", random_hex(8));
    if (auto ok = (*set)->run(); !ok) {
        return ok;
    }
    (*set)->bind_all("created_at", iso_utc(now_ms));
    return (*set)->run();
}

Result<std::string> Store::renew_epoch(storage::Database& db) {
    std::string epoch = random_hex(8);
    auto set = db.cached("INSERT INTO meta(key, value) VALUES('epoch', ?)"
                         " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!set) {
        return tl::unexpected(set.error());
    }
    (*set)->bind(1, epoch);
    if (auto ok = (*set)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return epoch;
}

Result<std::string> Store::epoch() {
    auto stmt = m_db.cached("SELECT value FROM meta WHERE key = 'epoch'");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    if (!*row) {
        return fail(ErrorCode::corrupt, "the server database has no epoch");
    }
    std::string epoch = (*stmt)->column_text(0);
    (*stmt)->reset();
    return epoch;
}

Result<std::int64_t> Store::head() {
    auto stmt = m_db.cached("SELECT coalesce(max(log_position), 0) FROM events");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::int64_t head = (*stmt)->column_int(0);
    (*stmt)->reset();
    return head;
}

// ---- operator ------------------------------------------------------------------------------

Result<std::string> Store::create_code(const CodeRequest& request) {
    auto lawyer = client::validate_text("lawyer", request.lawyer, client::k_max_name_chars);
    if (!lawyer) {
        return tl::unexpected(lawyer.error());
    }
    std::vector<std::string> regions;
    for (const std::string& r : request.regions) {
        auto region = client::validate_text("region", r, client::k_max_name_chars);
        if (!region) {
            return tl::unexpected(region.error());
        }
        bool seen = std::any_of(regions.begin(), regions.end(), [&](const std::string& x) {
            return region_key(x) == region_key(*region);
        });
        if (!seen) {
            regions.push_back(*region);
        }
    }
    if (request.role == Role::lawyer && regions.empty()) {
        return fail(ErrorCode::invalid_input, "a lawyer's code needs at least one --region");
    }
    if (request.ttl_hours < 1 || request.ttl_hours > 24 * 365) {
        return fail(ErrorCode::invalid_input, "--ttl must be between 1 and 8760 hours");
    }
    std::string code = new_enrollment_code();
    auto canonical = normalize_code(code);
    std::int64_t now = now_ms();
    auto insert = m_db.cached("INSERT INTO enrollment_codes(code_hash, lawyer, role, regions,"
                              " created_at, expires_at) VALUES(?, ?, ?, ?, ?, ?)");
    if (!insert) {
        return tl::unexpected(insert.error());
    }
    (*insert)->bind_all(hash_secret(canonical.value_or(code)), *lawyer,
                        std::string(to_string(request.role)), json(regions).dump(), now,
                        now + request.ttl_hours * 3600 * 1000);
    if (auto ok = (*insert)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return code;
}

Result<std::optional<DeviceRecord>> Store::load_device(std::string_view device_id) {
    static const std::string sql =
        "SELECT " + std::string(k_device_columns) + " FROM enrolled_devices WHERE device_id = ?";
    auto stmt = m_db.cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, device_id);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<DeviceRecord> device;
    if (*row) {
        device = read_device(**stmt);
    }
    (*stmt)->reset();
    return device;
}

Result<std::vector<DeviceRecord>> Store::devices() {
    static const std::string sql = "SELECT " + std::string(k_device_columns) +
                                   " FROM enrolled_devices ORDER BY enrolled_at, device_id";
    auto stmt = m_db.prepare(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    std::vector<DeviceRecord> list;
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        list.push_back(read_device(*stmt));
    }
    return list;
}

Result<DeviceRecord> Store::revoke(std::string_view ref_in) {
    std::string ref = client::fold_case(client::normalize_space(ref_in));
    if (ref.size() < 4) {
        return fail(ErrorCode::invalid_input,
                    "give the device id or at least its last 4 characters");
    }
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    auto find = m_db.prepare("SELECT device_id FROM enrolled_devices WHERE device_id = ?1"
                             " OR substr(device_id, -length(?1)) = ?1");
    if (!find) {
        return tl::unexpected(find.error());
    }
    find->bind(1, ref);
    std::vector<std::string> ids;
    for (;;) {
        auto row = find->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        ids.push_back(find->column_text(0));
    }
    find->reset();
    if (ids.empty()) {
        return fail(ErrorCode::not_found, "no enrolled device matches " + ref);
    }
    if (ids.size() > 1 && std::find(ids.begin(), ids.end(), ref) == ids.end()) {
        return fail(ErrorCode::ambiguous,
                    "several devices match " + ref + "; give more of the device id");
    }
    std::string id = ids.size() == 1 ? ids.front() : ref;
    auto update = m_db.cached(
        "UPDATE enrolled_devices SET revoked_at = coalesce(revoked_at, ?) WHERE device_id = ?");
    if (!update) {
        return tl::unexpected(update.error());
    }
    (*update)->bind_all(now_ms(), id);
    if (auto ok = (*update)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    auto device = load_device(id);
    if (!device) {
        return tl::unexpected(device.error());
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(ok.error());
    }
    return **device;
}

Result<std::vector<client::ConflictEntry>> Store::conflicts() {
    auto stmt = m_db.prepare("SELECT entity_type, entity_id, field, a_version, a_value,"
                             " b_version, b_value FROM conflicts"
                             " ORDER BY entity_type, entity_id, field, a_version, b_version");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    std::vector<client::ConflictEntry> list;
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        client::ConflictEntry c;
        c.entity_type = stmt->column_text(0);
        c.entity_id = stmt->column_text(1);
        c.field = stmt->column_text(2);
        c.a_version = stmt->column_text(3);
        c.a_value = stmt->column_text(4);
        c.b_version = stmt->column_text(5);
        c.b_value = stmt->column_text(6);
        list.push_back(std::move(c));
    }
    for (client::ConflictEntry& c : list) {
        const client::EntityDef* def = client::find_entity(c.entity_type);
        if (!def || !c.delete_vs_edit()) {
            continue;
        }
        auto deleted = m_db.prepare("SELECT coalesce(deleted, 0) FROM " +
                                    std::string(def->table) + " WHERE id = ?");
        if (!deleted) {
            return tl::unexpected(deleted.error());
        }
        deleted->bind(1, c.entity_id);
        auto row = deleted->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        c.record_deleted = *row && deleted->column_int(0) != 0;
    }
    return list;
}

// ---- enrollment and authentication ---------------------------------------------------------

ApiResult<Enrollment> Store::enroll(std::string_view code_in, std::string_view device_id,
                                    const SyncReport& report) {
    if (!client::is_uuid(device_id)) {
        return refuse(codes::malformed, "\"device_id\" must be a lowercase UUID");
    }
    const std::string_view refusal = "the enrollment code is unknown, already used or expired";
    auto code = normalize_code(code_in);
    if (!code) {
        return refuse(codes::invalid_code, std::string(refusal));
    }
    const std::string code_hash = hash_secret(*code);
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(internal(tx.error()));
    }
    auto find = m_db.cached("SELECT code_hash, lawyer, role, regions, expires_at, used_at, used_by"
                            " FROM enrollment_codes WHERE code_hash = ?");
    if (!find) {
        return tl::unexpected(internal(find.error()));
    }
    (*find)->bind(1, code_hash);
    auto row = (*find)->step();
    if (!row) {
        return tl::unexpected(internal(row.error()));
    }
    const std::int64_t now = now_ms();
    if (!*row || !same_hash((*find)->column_text(0), code_hash) || (*find)->column_int(4) <= now) {
        (*find)->reset();
        return refuse(codes::invalid_code, std::string(refusal));
    }
    DeviceRecord device;
    device.device_id = std::string(device_id);
    device.lawyer = (*find)->column_text(1);
    device.role = parse_role((*find)->column_text(2)).value_or(Role::lawyer);
    device.regions = parse_regions((*find)->column_text(3));
    device.enrolled_at_ms = now;
    const std::optional<std::int64_t> used_at = (*find)->column_opt_int(5);
    const std::optional<std::string> used_by = (*find)->column_opt_text(6);
    (*find)->reset();

    // An id is enrolled once: whatever the server knows of it (a device record, enrolled,
    // revoked, rotated, a predecessor or successor; or events) closes it to new enrollments.
    // Every device learns every device id as reference data, so an open id would let any code
    // holder take over another device's identity, region and acknowledged sequence.
    const std::string_view taken =
        "this device id is already known to the server and cannot be enrolled again;"
        " a device that needs a new enrollment needs a new device id";
    auto known = load_device(device_id);
    if (!known) {
        return tl::unexpected(internal(known.error()));
    }
    std::string token = new_token();
    if (used_at) {
        // The code was used. The only answer is to a repeat of that very enrollment whose
        // answer was lost: same id, the record it created untouched since, and no request made
        // with its token yet (so the token being replaced was never received).
        if (used_by != device.device_id) {
            return refuse(codes::invalid_code, std::string(refusal));
        }
        const bool repeat = *known && (*known)->enrolled_at_ms == *used_at && !(*known)->spoken() &&
                            !(*known)->revoked() && !(*known)->rotated();
        if (!repeat) {
            return refuse(codes::device_id_taken, std::string(taken));
        }
        auto update = m_db.cached("UPDATE enrolled_devices SET token_hash = ?"
                                  " WHERE device_id = ? AND first_used_at IS NULL");
        if (!update) {
            return tl::unexpected(internal(update.error()));
        }
        (*update)->bind_all(hash_secret(token), device.device_id);
        if (auto ok = (*update)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    } else {
        if (*known) {
            return refuse(codes::device_id_taken, std::string(taken));
        }
        auto held = m_log.last_seq(device_id);
        if (!held) {
            return tl::unexpected(internal(held.error()));
        }
        if (*held > 0) {
            return refuse(codes::device_id_taken, std::string(taken));
        }
        auto insert =
            m_db.cached("INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
                        " enrolled_at, app_version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!insert) {
            return tl::unexpected(internal(insert.error()));
        }
        (*insert)->bind_all(device.device_id, device.lawyer, std::string(to_string(device.role)),
                            json(device.regions).dump(), hash_secret(token), now);
        (*insert)->bind(7, report.app_version);
        if (auto ok = (*insert)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
        auto used =
            m_db.cached("UPDATE enrollment_codes SET used_at = ?, used_by = ? WHERE code_hash = ?");
        if (!used) {
            return tl::unexpected(internal(used.error()));
        }
        (*used)->bind_all(now, device.device_id, code_hash);
        if (auto ok = (*used)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    }
    auto stored = load_device(device.device_id);
    if (!stored || !*stored) {
        return tl::unexpected(
            internal(stored ? Error{ErrorCode::internal, "device vanished"} : stored.error()));
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    return Enrollment{**stored, std::move(token)};
}

ApiResult<DeviceRecord> Store::authenticate(std::string_view token, bool allow_rotated) {
    if (!is_token_syntax(token)) {
        return refuse(codes::unauthenticated, "unknown or malformed token");
    }
    const std::string token_hash = hash_secret(token);
    static const std::string sql = "SELECT " + std::string(k_device_columns) +
                                   ", token_hash FROM enrolled_devices WHERE token_hash = ?";
    auto stmt = m_db.cached(sql);
    if (!stmt) {
        return tl::unexpected(internal(stmt.error()));
    }
    (*stmt)->bind(1, token_hash);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(internal(row.error()));
    }
    if (!*row || !same_hash((*stmt)->column_text(k_token_hash_column), token_hash)) {
        (*stmt)->reset();
        return refuse(codes::unauthenticated, "unknown or malformed token");
    }
    DeviceRecord device = read_device(**stmt);
    (*stmt)->reset();
    if (device.revoked()) {
        return refuse(codes::device_revoked,
                      "this device was revoked; ask the coordinator for a new enrollment code");
    }
    if (device.rotated() && !allow_rotated) {
        return refuse(codes::device_rotated,
                      "this device id was replaced by " + client::short_id(*device.successor) +
                          "; its events stay on the server",
                      {{"successor", *device.successor}});
    }
    if (!device.spoken()) {
        // The device speaks for the first time: from now on no repeat of the enrollment or
        // rotation that created it can replace its token. Once per device, so no lock is held
        // for it on every request. Tied to this token: if a repeat replaced it in between,
        // nothing is marked and this token is no longer valid.
        const std::int64_t now = now_ms();
        auto mark =
            m_db.cached("UPDATE enrolled_devices SET first_used_at = ?"
                        " WHERE device_id = ? AND token_hash = ? AND first_used_at IS NULL");
        if (!mark) {
            return tl::unexpected(internal(mark.error()));
        }
        (*mark)->bind_all(now, device.device_id, token_hash);
        if (auto ok = (*mark)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
        if (m_db.changes() == 0) {
            auto again = load_device(device.device_id);
            if (!again) {
                return tl::unexpected(internal(again.error()));
            }
            if (!*again || !(*again)->spoken()) {
                return refuse(codes::unauthenticated, "unknown or malformed token");
            }
            // Marked by a concurrent request of this device: check the token is still this one.
            auto same = m_db.cached("SELECT 1 FROM enrolled_devices WHERE device_id = ?"
                                    " AND token_hash = ?");
            if (!same) {
                return tl::unexpected(internal(same.error()));
            }
            (*same)->bind_all(device.device_id, token_hash);
            auto hit = (*same)->step();
            (*same)->reset();
            if (!hit) {
                return tl::unexpected(internal(hit.error()));
            }
            if (!*hit) {
                return refuse(codes::unauthenticated, "unknown or malformed token");
            }
            device.first_used_at_ms = (*again)->first_used_at_ms;
        } else {
            device.first_used_at_ms = now;
        }
    }
    return device;
}

// ---- rotation ------------------------------------------------------------------------------

Result<std::string> Store::lineage_json(const DeviceRecord& device) {
    json ids = json::array({device.device_id});
    std::optional<std::string> next = device.predecessor;
    // Bounded: a chain longer than this would be a bug (or a loop), not a real history.
    for (int hop = 0; next && hop < 64; ++hop) {
        if (std::find(ids.begin(), ids.end(), json(*next)) != ids.end()) {
            break;
        }
        ids.push_back(*next);
        auto before = load_device(*next);
        if (!before) {
            return tl::unexpected(before.error());
        }
        next = *before ? (*before)->predecessor : std::nullopt;
    }
    return ids.dump();
}

ApiResult<DeviceRecord> Store::current_device(const DeviceRecord& device) {
    auto fresh = load_device(device.device_id);
    if (!fresh) {
        return tl::unexpected(internal(fresh.error()));
    }
    if (!*fresh) {
        return refuse(codes::unauthenticated, "unknown device");
    }
    if ((*fresh)->revoked()) {
        return refuse(codes::device_revoked,
                      "this device was revoked; ask the coordinator for a new enrollment code");
    }
    return std::move(**fresh);
}

ApiResult<Enrollment> Store::rotate(const DeviceRecord& device, std::string_view new_device_id,
                                    const SyncReport& report) {
    if (!client::is_uuid(new_device_id) || new_device_id == device.device_id) {
        return refuse(codes::malformed,
                      "\"new_device_id\" must be a lowercase UUID other than the device's own");
    }
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(internal(tx.error()));
    }
    // Under the write lock: a concurrent revoke, rotation or push of the old id.
    auto fresh = current_device(device);
    if (!fresh) {
        return tl::unexpected(fresh.error());
    }
    const DeviceRecord& old = *fresh;
    const bool repeat = old.successor == std::string(new_device_id);
    if (old.rotated() && !repeat) {
        return refuse(codes::device_rotated,
                      "this device id was already replaced by " + client::short_id(*old.successor),
                      {{"successor", *old.successor}});
    }
    const std::int64_t now = now_ms();
    std::string token = new_token();
    if (repeat) {
        // The first answer was lost: the same successor gets a fresh token (the first one was
        // never stored by the device). Nothing else changes. Only while the successor has not
        // spoken: after that the old token (in any old copy of the database) could otherwise
        // re-claim the successor and cut off the device that legitimately holds it.
        auto successor = load_device(new_device_id);
        if (!successor) {
            return tl::unexpected(internal(successor.error()));
        }
        if (!*successor || (*successor)->spoken() || (*successor)->revoked() ||
            (*successor)->rotated()) {
            return refuse(codes::device_id_taken,
                          "the new device id has been in use with its own token since; it"
                          " cannot be claimed again",
                          {{"successor", *old.successor}});
        }
        auto update = m_db.cached("UPDATE enrolled_devices SET token_hash = ?"
                                  " WHERE device_id = ? AND first_used_at IS NULL");
        if (!update) {
            return tl::unexpected(internal(update.error()));
        }
        (*update)->bind_all(hash_secret(token), std::string(new_device_id));
        if (auto ok = (*update)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    } else {
        auto taken = load_device(new_device_id);
        if (!taken) {
            return tl::unexpected(internal(taken.error()));
        }
        auto held = m_log.last_seq(new_device_id);
        if (!held) {
            return tl::unexpected(internal(held.error()));
        }
        if (*taken || *held > 0) {
            return refuse(codes::device_id_taken,
                          "\"new_device_id\" is already known to the server; an id is enrolled"
                          " once");
        }
        auto insert = m_db.cached(
            "INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
            " enrolled_at, app_version, predecessor) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!insert) {
            return tl::unexpected(internal(insert.error()));
        }
        (*insert)->bind_all(std::string(new_device_id), old.lawyer,
                            std::string(to_string(old.role)), json(old.regions).dump(),
                            hash_secret(token), now);
        (*insert)->bind(7, report.app_version);
        (*insert)->bind(8, old.device_id);
        if (auto ok = (*insert)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
        auto mark = m_db.cached(
            "UPDATE enrolled_devices SET successor = ?, rotated_at = ? WHERE device_id = ?");
        if (!mark) {
            return tl::unexpected(internal(mark.error()));
        }
        (*mark)->bind_all(std::string(new_device_id), now, old.device_id);
        if (auto ok = (*mark)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    }
    auto stored = load_device(new_device_id);
    if (!stored || !*stored) {
        return tl::unexpected(
            internal(stored ? Error{ErrorCode::internal, "device vanished"} : stored.error()));
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    return Enrollment{**stored, std::move(token)};
}

// ---- scope ---------------------------------------------------------------------------------

Result<std::optional<std::string>> Store::text_column(std::string_view sql, std::string_view id) {
    auto stmt = m_db.cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, id);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<std::string> value;
    if (*row) {
        value = (*stmt)->column_opt_text(0);
    }
    (*stmt)->reset();
    return value;
}

Result<std::optional<std::string>> Store::region_of_village(std::string_view id) {
    return text_column("SELECT region FROM villages WHERE id = ?", id);
}

Result<std::optional<std::string>> Store::region_of_visit(std::string_view id) {
    return text_column("SELECT g.region FROM visits v JOIN villages g ON g.id = v.village_id"
                       " WHERE v.id = ?",
                       id);
}

Result<Store::Placement> Store::place(const Event& event, const json& fields) {
    Placement p;
    const client::EntityDef* def = client::find_entity(event.entity_type);
    if (!def || def == &client::entities::device) {
        p.reference = true;
        return p;
    }
    if (def == &client::entities::village) {
        p.reference = true;
        auto before = region_of_village(event.entity_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
        const json* region = string_field(fields, "region");
        p.after = region ? std::optional<std::string>(region->get<std::string>()) : p.before;
        return p;
    }
    if (def == &client::entities::visit) {
        auto before = region_of_visit(event.entity_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
        p.after = p.before;
        if (const json* village = string_field(fields, "village_id")) {
            auto after = region_of_village(village->get_ref<const std::string&>());
            if (!after) {
                return tl::unexpected(after.error());
            }
            p.after = *after;
        }
        return p;
    }
    // Records held by a visit: consultation, attendance, survey, photo.
    auto visit_id = text_column("SELECT visit_id FROM " + std::string(def->table) + " WHERE id = ?",
                                event.entity_id);
    if (!visit_id) {
        return tl::unexpected(visit_id.error());
    }
    if (*visit_id) {
        auto before = region_of_visit(**visit_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
    }
    p.after = p.before;
    if (const json* visit = string_field(fields, "visit_id")) {
        auto after = region_of_visit(visit->get_ref<const std::string&>());
        if (!after) {
            return tl::unexpected(after.error());
        }
        p.after = *after;
    }
    return p;
}

Result<std::optional<std::pair<std::string_view, std::string>>>
Store::missing_dependency(const DeviceRecord& device, const Event& event, const json& fields) {
    using Missing = std::optional<std::pair<std::string_view, std::string>>;
    const client::EntityDef* def = client::find_entity(event.entity_type);
    if (!def || def == &client::entities::device || def == &client::entities::village) {
        return Missing();
    }
    auto held = [&](const client::EntityDef& of, const std::string& id) -> Result<bool> {
        auto row = text_column("SELECT id FROM " + std::string(of.table) +
                                   " WHERE id = ? AND _created IS NOT NULL",
                               id);
        return row ? Result<bool>(row->has_value()) : tl::unexpected(row.error());
    };
    // Only this device's own refusals are looked up (through the primary key's prefix): a
    // device learns other devices' records from the feed, which never holds a refused one.
    auto refused = [&](const std::string& id) -> Result<bool> {
        auto stmt = m_db.cached(
            "SELECT 1 FROM rejected_events WHERE device_id = ? AND entity_id = ? LIMIT 1");
        if (!stmt) {
            return tl::unexpected(stmt.error());
        }
        (*stmt)->bind_all(device.device_id, id);
        auto row = (*stmt)->step();
        (*stmt)->reset();
        return row;
    };
    if (event.op != client::k_op_create) {
        auto here = held(*def, event.entity_id);
        if (!here) {
            return tl::unexpected(here.error());
        }
        if (!*here) {
            auto was_refused = refused(event.entity_id);
            if (!was_refused) {
                return tl::unexpected(was_refused.error());
            }
            // An update of a record the server never received stays acceptable (after a
            // restore, another device may offer the creation later); one whose creation was
            // refused would otherwise land in no region.
            if (*was_refused) {
                return Missing(std::pair{codes::parent_rejected,
                                         "the " + std::string(def->type) + " " + event.entity_id +
                                             " this event changes was refused when created"});
            }
        }
    }
    const client::EntityDef& parent =
        def == &client::entities::visit ? client::entities::village : client::entities::visit;
    const json* parent_id = string_field(fields, def == &client::entities::visit ? "village_id"
                                                                                 : "visit_id");
    if (!parent_id) {
        return Missing();
    }
    const std::string& id = parent_id->get_ref<const std::string&>();
    auto here = held(parent, id);
    if (!here) {
        return tl::unexpected(here.error());
    }
    if (*here) {
        return Missing();
    }
    auto was_refused = refused(id);
    if (!was_refused) {
        return tl::unexpected(was_refused.error());
    }
    if (*was_refused) {
        return Missing(std::pair{codes::parent_rejected, "the " + std::string(parent.type) + " " +
                                                             id + " it belongs to was refused"});
    }
    return Missing(std::pair{codes::parent_unknown, "the " + std::string(parent.type) + " " + id +
                                                        " it belongs to is not on the server"});
}

// ---- push ----------------------------------------------------------------------------------

ApiResult<PushResponse> Store::push(const DeviceRecord& device, const PushRequest& request,
                                    const SyncReport& report) {
    if (request.device_id != device.device_id) {
        return refuse(codes::forbidden, "\"device_id\" is not the id of this device's token");
    }
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        const Event& e = request.events[i];
        const std::string where = "events[" + std::to_string(i) + "]";
        if (e.device_id != device.device_id) {
            return refuse(codes::forbidden, where + " belongs to another device");
        }
        if (e.seq <= previous) {
            return refuse(codes::malformed, where + ": events must be in ascending seq order");
        }
        previous = e.seq;
        if (e.schema_version < client::k_min_event_schema_version ||
            e.schema_version > client::k_event_schema_version) {
            return refuse(codes::upgrade_required,
                          where + ": event schema version " + std::to_string(e.schema_version) +
                              " is not supported (this server reads " +
                              std::to_string(client::k_min_event_schema_version) + " to " +
                              std::to_string(client::k_event_schema_version) + ")");
        }
    }
    auto epoch_value = epoch();
    if (!epoch_value) {
        return tl::unexpected(internal(epoch_value.error()));
    }

    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(internal(tx.error()));
    }
    // Under the write lock: the device's state as it is now (a concurrent revoke or push).
    auto fresh = current_device(device);
    if (!fresh) {
        return tl::unexpected(fresh.error());
    }
    const DeviceRecord& me = *fresh;
    if (me.rotated()) {
        return refuse(codes::device_rotated,
                      "this device id was replaced by " + client::short_id(*me.successor) +
                          "; it can push no more",
                      {{"successor", *me.successor}});
    }
    const std::int64_t committed_acked = me.acked_seq;
    std::int64_t acked = committed_acked;
    const std::int64_t now = now_ms();

    auto find_rejected = m_db.cached(
        "SELECT device_id, seq, hlc, entity_type, entity_id, op, payload, schema_version, 0"
        " FROM rejected_events WHERE device_id = ? AND seq = ?");
    auto insert_rejected = m_db.cached(
        "INSERT INTO rejected_events(device_id, seq, hlc, entity_type, entity_id, op, payload,"
        " schema_version, code, message, received_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    auto insert_scope =
        m_db.cached("INSERT INTO event_scope(log_position, reference, region_key) VALUES(?, ?, ?)");
    for (auto* s : {&find_rejected, &insert_rejected, &insert_scope}) {
        if (!*s) {
            return tl::unexpected(internal(s->error()));
        }
    }

    PushResponse response;
    response.epoch = *epoch_value;
    response.results.reserve(request.events.size());
    for (const Event& e : request.events) {
        EventResult result;
        result.seq = e.seq;
        if (e.seq <= acked) {
            // Already acknowledged: the same content is a duplicate, anything else means the
            // device's log diverged from what it sent before (e.g. restored from a backup).
            auto held = m_log.find(e.device_id, e.seq);
            if (!held) {
                return tl::unexpected(internal(held.error()));
            }
            if (*held) {
                if (!(**held == e)) {
                    return refuse(codes::sequence_conflict,
                                  "event " + std::to_string(e.seq) +
                                      " differs from the copy the server holds",
                                  {{"acked_seq", committed_acked}, {"seq", e.seq}});
                }
                result.fate = EventFate::duplicate;
                result.server_seq = (*held)->log_position;
                response.results.push_back(std::move(result));
                continue;
            }
            Statement& s = **find_rejected;
            s.reset();
            s.bind_all(e.device_id, e.seq);
            auto row = s.step();
            if (!row) {
                return tl::unexpected(internal(row.error()));
            }
            if (!*row) {
                s.reset();
                return tl::unexpected(internal(
                    Error{ErrorCode::corrupt, "acknowledged event missing from the server"}));
            }
            Event refused = read_event(s);
            s.reset();
            refused.log_position = 0;
            refused.server_seq.reset();
            if (!(refused == e)) {
                return refuse(codes::sequence_conflict,
                              "event " + std::to_string(e.seq) +
                                  " differs from the copy the server holds",
                              {{"acked_seq", committed_acked}, {"seq", e.seq}});
            }
            // A duplicate of an event refused earlier: no server_seq, it stays out of the feed.
            result.fate = EventFate::duplicate;
            response.results.push_back(std::move(result));
            continue;
        }
        if (e.seq != acked + 1) {
            return refuse(codes::sequence_gap,
                          "event " + std::to_string(e.seq) + " does not follow " +
                              std::to_string(acked) + "; resend from " +
                              std::to_string(committed_acked + 1),
                          {{"acked_seq", committed_acked}});
        }

        std::string code, message;
        std::optional<Placement> placement;
        json payload;
        if (client::beyond_ceiling(client::Hlc{e.hlc}, now)) {
            // Accepting it would hand every device that pulls it a clock it can never issue
            // below again (docs/sync-algorithm.md, clock rules): this event alone is refused.
            code = codes::clock_ahead;
            message = "the event's clock is more than 24 hours ahead of the server's clock";
        } else if (auto valid = client::validate_event(e); !valid) {
            code = codes::invalid_event;
            message = valid.error().message;
        } else {
            payload = json::parse(e.payload, nullptr, false);
            auto placed = place(e, payload.at("fields"));
            if (!placed) {
                return tl::unexpected(internal(placed.error()));
            }
            placement = std::move(*placed);
            // Before the scope: a record under a refused or missing parent has no region to
            // judge, and must not be accepted into none (issue 10).
            auto missing = missing_dependency(me, e, payload.at("fields"));
            if (!missing) {
                return tl::unexpected(internal(missing.error()));
            }
            if (*missing) {
                code = (*missing)->first;
                message = std::move((*missing)->second);
            } else if (me.role == Role::lawyer) {
                if (e.entity_type == client::entities::device.type) {
                    if (e.entity_id != me.device_id) {
                        code = codes::out_of_scope;
                        message = "a device may only describe itself";
                    }
                } else {
                    for (const auto* region : {&placement->before, &placement->after}) {
                        if (*region && !in_regions(me, **region)) {
                            code = codes::out_of_scope;
                            message = "the record belongs to a region outside this device's";
                        }
                    }
                }
            }
        }

        Event stored = e;
        stored.server_seq.reset();
        if (code.empty()) {
            auto appended = m_log.append(stored);
            if (!appended && appended.error().code == ErrorCode::conflict) {
                // The seq is new, so the log refused an event whose clock is out of order with
                // this device's other events (one clock value stamped twice, or a clock that went
                // back): refuse the event, not the push, or the queue would stall on it.
                code = codes::invalid_event;
                message = "the event's clock is out of order with this device's other events"
                          " (a higher seq needs a higher clock)";
            } else if (!appended) {
                return tl::unexpected(internal(appended.error()));
            } else if (!*appended) {
                return tl::unexpected(internal(
                    Error{ErrorCode::corrupt, "event stored beyond the acknowledged sequence"}));
            }
        }
        if (code.empty()) {
            if (auto ok = m_projector.apply(stored, payload); !ok) {
                return tl::unexpected(internal(ok.error()));
            }
            Statement& s = **insert_scope;
            s.reset();
            s.bind_all(stored.log_position, placement->reference);
            s.bind(3, placement->after ? std::optional<std::string>(region_key(*placement->after))
                                       : std::nullopt);
            if (auto ok = s.run(); !ok) {
                return tl::unexpected(internal(ok.error()));
            }
            result.fate = EventFate::accepted;
            result.server_seq = stored.log_position;
        } else {
            Statement& s = **insert_rejected;
            s.reset();
            s.bind_all(e.device_id, e.seq, e.hlc, e.entity_type, e.entity_id, e.op, e.payload,
                       e.schema_version, code, message, now);
            if (auto ok = s.run(); !ok) {
                return tl::unexpected(internal(ok.error()));
            }
            result.fate = EventFate::rejected;
            result.code = code;
            result.message = message;
        }
        acked = e.seq;
        response.results.push_back(std::move(result));
    }
    if (auto ok = update_report(me.device_id, report, true, acked); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    response.acked_seq = acked;
    return response;
}

Result<void> Store::update_report(const std::string& device_id, const SyncReport& report,
                                  bool pushed, std::optional<std::int64_t> acked_seq) {
    auto stmt = m_db.cached("UPDATE enrolled_devices SET acked_seq = coalesce(?2, acked_seq),"
                            " last_push_at = CASE WHEN ?3 THEN ?4 ELSE last_push_at END,"
                            " last_pull_at = CASE WHEN ?3 THEN last_pull_at ELSE ?4 END,"
                            " last_sync_at = ?4,"
                            " app_version = coalesce(?5, app_version),"
                            " queue_depth = coalesce(?6, queue_depth),"
                            " oldest_unsynced = CASE WHEN ?7 THEN ?8 WHEN ?6 = 0 THEN NULL"
                            "  ELSE oldest_unsynced END"
                            " WHERE device_id = ?1");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    Statement& s = **stmt;
    s.bind(1, device_id);
    s.bind(2, acked_seq);
    s.bind(3, pushed);
    s.bind(4, now_ms());
    s.bind(5, report.app_version);
    s.bind(6, report.queue_depth);
    s.bind(7, report.has_oldest_unsynced);
    s.bind(8, report.oldest_unsynced);
    return s.run();
}

Result<void> Store::record_pull(const DeviceRecord& device, const SyncReport& report) {
    return update_report(device.device_id, report, false, std::nullopt);
}

// ---- change feed ---------------------------------------------------------------------------

Result<void> Store::visible_events(const DeviceRecord& device, std::int64_t from, std::int64_t to,
                                   std::int64_t limit, const std::function<bool(Event&)>& visit,
                                   std::int64_t own_upto) {
    auto stmt = m_db.cached(
        "SELECT e.device_id, e.seq, e.hlc, e.entity_type, e.entity_id, e.op, e.payload,"
        " e.schema_version, e.log_position"
        " FROM events e LEFT JOIN event_scope s ON s.log_position = e.log_position"
        " WHERE e.log_position > ?1 AND e.log_position <= ?2"
        " AND (?3 OR s.reference = 1 OR e.device_id IN (SELECT value FROM json_each(?4))"
        "      OR s.region_key IN (SELECT value FROM json_each(?5)))"
        " AND NOT (e.device_id = ?7 AND e.seq <= ?8)"
        " ORDER BY e.log_position LIMIT ?6");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    Statement& s = **stmt;
    s.bind(1, from);
    s.bind(2, to);
    s.bind(3, device.role == Role::coordinator);
    auto lineage = lineage_json(device);
    if (!lineage) {
        s.reset();
        return tl::unexpected(lineage.error());
    }
    s.bind(4, *lineage);
    s.bind(5, region_keys_json(device));
    s.bind(6, limit);
    s.bind(7, std::string_view(device.device_id));
    s.bind(8, own_upto);
    for (;;) {
        auto row = s.step();
        if (!row) {
            s.reset();
            return tl::unexpected(row.error());
        }
        if (!*row) {
            break;
        }
        Event e = read_event(s);
        if (!visit(e)) {
            break;
        }
    }
    s.reset(); // ends the read snapshot
    return {};
}

ApiResult<PullResponse> Store::pull(const DeviceRecord& device, std::int64_t after,
                                    std::int64_t limit, std::string_view device_epoch,
                                    std::int64_t own_upto) {
    auto current = epoch();
    if (!current) {
        return tl::unexpected(internal(current.error()));
    }
    if (!device_epoch.empty() && device_epoch != *current) {
        return refuse(codes::epoch_changed,
                      "the server was restored from a backup: push, then pull again from 0",
                      {{"epoch", *current}});
    }
    if (after < 0) {
        return refuse(codes::malformed, "\"after\" must be a non-negative integer");
    }
    if (own_upto < 0) {
        return refuse(codes::malformed, "\"own_upto\" must be a non-negative integer");
    }
    if (limit <= 0) {
        limit = k_default_pull_limit;
    }
    limit = std::min<std::int64_t>(limit, static_cast<std::int64_t>(Limits::max_events_per_pull));
    auto top = head();
    if (!top) {
        return tl::unexpected(internal(top.error()));
    }
    PullResponse response;
    response.epoch = *current;
    std::int64_t budget = k_pull_budget_bytes;
    bool stopped = false;
    auto ok = visible_events(
        device, after, *top, limit,
        [&](Event& e) {
            std::int64_t cost =
                static_cast<std::int64_t>(e.payload.size()) + k_event_overhead_bytes;
            if (!response.events.empty() && cost > budget) {
                stopped = true;
                return false;
            }
            budget -= cost;
            response.events.push_back(std::move(e));
            if (static_cast<std::int64_t>(response.events.size()) >= limit) {
                stopped = true;
                return false;
            }
            return true;
        },
        own_upto);
    if (!ok) {
        return tl::unexpected(internal(ok.error()));
    }
    if (stopped && response.events.back().log_position < *top) {
        response.next_after = response.events.back().log_position;
        response.more = true;
    } else {
        // Everything up to the head was looked at: events the device may not see are skipped.
        response.next_after = std::max(after, *top);
        response.more = false;
    }
    return response;
}

ApiResult<VerifyResult> Store::verify(const DeviceRecord& device,
                                      std::optional<std::int64_t> upto) {
    if (upto && *upto < 0) {
        return refuse(codes::malformed, "\"upto\" must be a non-negative integer");
    }
    auto top = head();
    if (!top) {
        return tl::unexpected(internal(top.error()));
    }
    VerifyResult result;
    result.upto = upto ? std::min(*upto, *top) : *top;
    SetDigest digest;
    std::int64_t from = 0;
    for (;;) {
        std::int64_t last = from;
        auto ok = visible_events(device, from, result.upto, 2000, [&](Event& e) {
            digest.add(e);
            last = e.log_position;
            return true;
        });
        if (!ok) {
            return tl::unexpected(internal(ok.error()));
        }
        if (last == from) {
            break;
        }
        from = last;
    }
    result.count = digest.count();
    result.digest = digest.hex();
    return result;
}

ApiResult<StatusResult> Store::status(const DeviceRecord& device) {
    auto top = head();
    if (!top) {
        return tl::unexpected(internal(top.error()));
    }
    return StatusResult{device.acked_seq, *top};
}

} // namespace caravan::sync::server
