#include "sqlite_device_registry.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/server/credentials.hpp"
#include "registry_rules.hpp"

namespace caravan::sync::server {

using nlohmann::json;
using storage::Statement;

namespace {

using rules::k_device_columns;
// The column after k_device_columns in queries that add the token hash.
constexpr int k_token_hash_column = 15;

ApiError internal(const Error& error) {
    return api_error_from(error);
}

// A statement's current row, as rules::device_from reads it.
struct StatementRow {
    const Statement& s;
    [[nodiscard]] std::string text(int c) const { return s.column_text(c); }
    [[nodiscard]] std::int64_t int64(int c) const { return s.column_int(c); }
    [[nodiscard]] std::optional<std::string> opt_text(int c) const { return s.column_opt_text(c); }
    [[nodiscard]] std::optional<std::int64_t> opt_int64(int c) const { return s.column_opt_int(c); }
};

DeviceRecord read_device(const Statement& s) {
    return rules::device_from(StatementRow{s});
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

bool in_regions(const DeviceRecord& device, const std::string& region) {
    const std::string key = region_key(region);
    return std::any_of(device.regions.begin(), device.regions.end(),
                       [&](const std::string& r) { return region_key(r) == key; });
}

SqliteDeviceRegistry::SqliteDeviceRegistry(storage::Database& db,
                                           std::function<std::int64_t()> clock)
    : m_db(db), m_log(db), m_clock(std::move(clock)) {}

// ---- operator ------------------------------------------------------------------------------

Result<std::string> SqliteDeviceRegistry::create_code(const CodeRequest& request) {
    CARAVAN_TRY(made, rules::new_code(request, m_clock()));
    auto insert = m_db.cached("INSERT INTO enrollment_codes(code_hash, lawyer, role, regions,"
                              " created_at, expires_at) VALUES(?, ?, ?, ?, ?, ?)");
    if (!insert) {
        return tl::unexpected(insert.error());
    }
    (*insert)->bind_all(made.code_hash, made.lawyer, made.role, made.regions_json, made.created_at,
                        made.expires_at);
    if (auto ok = (*insert)->run(); !ok) {
        return tl::unexpected(ok.error());
    }
    return made.code;
}

Result<std::optional<DeviceRecord>> SqliteDeviceRegistry::load_device(std::string_view device_id) {
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

Result<std::vector<DeviceRecord>> SqliteDeviceRegistry::devices() {
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

Result<DeviceRecord> SqliteDeviceRegistry::revoke(std::string_view ref_in) {
    CARAVAN_TRY(ref, rules::revoke_ref(ref_in));
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
    CARAVAN_TRY(id, rules::pick_device(ids, ref));
    auto update = m_db.cached(
        "UPDATE enrolled_devices SET revoked_at = coalesce(revoked_at, ?) WHERE device_id = ?");
    if (!update) {
        return tl::unexpected(update.error());
    }
    (*update)->bind_all(m_clock(), id);
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

// ---- enrollment and authentication ---------------------------------------------------------

ApiResult<Enrollment> SqliteDeviceRegistry::enroll(std::string_view code_in,
                                                   std::string_view device_id,
                                                   const SyncReport& report) {
    auto code_hash = rules::enrollment_code_hash(code_in, device_id);
    if (!code_hash) {
        return tl::unexpected(code_hash.error());
    }
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(internal(tx.error()));
    }
    auto find = m_db.cached("SELECT code_hash, lawyer, role, regions, expires_at, used_at, used_by"
                            " FROM enrollment_codes WHERE code_hash = ?");
    if (!find) {
        return tl::unexpected(internal(find.error()));
    }
    (*find)->bind(1, *code_hash);
    auto row = (*find)->step();
    if (!row) {
        return tl::unexpected(internal(row.error()));
    }
    std::optional<rules::CodeRow> code;
    if (*row) {
        const Statement& f = **find;
        code = rules::CodeRow{f.column_text(0),    f.column_text(1), f.column_text(2),
                              f.column_text(3),    f.column_int(4),  f.column_opt_int(5),
                              f.column_opt_text(6)};
    }
    (*find)->reset();
    const std::int64_t now = m_clock();
    auto device = rules::enrolled_device(code, *code_hash, device_id, now);
    if (!device) {
        return tl::unexpected(device.error());
    }
    auto known = load_device(device_id);
    if (!known) {
        return tl::unexpected(internal(known.error()));
    }
    auto held = m_log.last_seq(device_id);
    if (!held) {
        return tl::unexpected(internal(held.error()));
    }
    auto write = rules::judge_enrollment(*code, device_id, *known, *held);
    if (!write) {
        return tl::unexpected(write.error());
    }
    std::string token = new_token();
    if (*write == rules::Write::reissue) {
        if (auto ok = reissue_token(device->device_id, token); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    } else {
        auto insert =
            m_db.cached("INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
                        " enrolled_at, app_version) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!insert) {
            return tl::unexpected(internal(insert.error()));
        }
        (*insert)->bind_all(device->device_id, device->lawyer, std::string(to_string(device->role)),
                            rules::regions_json(device->regions), hash_secret(token), now);
        (*insert)->bind(7, report.app_version);
        if (auto ok = (*insert)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
        auto used =
            m_db.cached("UPDATE enrollment_codes SET used_at = ?, used_by = ? WHERE code_hash = ?");
        if (!used) {
            return tl::unexpected(internal(used.error()));
        }
        (*used)->bind_all(now, device->device_id, *code_hash);
        if (auto ok = (*used)->run(); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    }
    return commit_enrollment(*tx, device->device_id, std::move(token));
}

ApiResult<DeviceRecord> SqliteDeviceRegistry::authenticate(std::string_view token,
                                                           bool allow_rotated) {
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
    if (auto ok = rules::usable(device, allow_rotated); !ok) {
        return tl::unexpected(ok.error());
    }
    if (!device.spoken()) {
        // The device speaks for the first time: from now on no repeat of the enrollment or
        // rotation that created it can replace its token. Once per device, so no lock is held
        // for it on every request. Tied to this token: if a repeat replaced it in between,
        // nothing is marked and this token is no longer valid.
        const std::int64_t now = m_clock();
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

Result<std::string> SqliteDeviceRegistry::lineage_json(const DeviceRecord& device) {
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

ApiResult<DeviceRecord> SqliteDeviceRegistry::current_device(const DeviceRecord& device) {
    auto fresh = load_device(device.device_id);
    if (!fresh) {
        return tl::unexpected(internal(fresh.error()));
    }
    return rules::current(std::move(*fresh));
}

ApiResult<Enrollment> SqliteDeviceRegistry::rotate(const DeviceRecord& device,
                                                   std::string_view new_device_id,
                                                   const SyncReport& report) {
    if (auto ok = rules::check_new_id(device, new_device_id); !ok) {
        return tl::unexpected(ok.error());
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
    auto known = load_device(new_device_id);
    if (!known) {
        return tl::unexpected(internal(known.error()));
    }
    auto held = m_log.last_seq(new_device_id);
    if (!held) {
        return tl::unexpected(internal(held.error()));
    }
    auto write = rules::judge_rotation(old, new_device_id, *known, *held);
    if (!write) {
        return tl::unexpected(write.error());
    }
    const std::int64_t now = m_clock();
    std::string token = new_token();
    if (*write == rules::Write::reissue) {
        if (auto ok = reissue_token(new_device_id, token); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    } else {
        auto insert = m_db.cached(
            "INSERT INTO enrolled_devices(device_id, lawyer, role, regions, token_hash,"
            " enrolled_at, app_version, predecessor) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        if (!insert) {
            return tl::unexpected(internal(insert.error()));
        }
        (*insert)->bind_all(std::string(new_device_id), old.lawyer,
                            std::string(to_string(old.role)), rules::regions_json(old.regions),
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
    return commit_enrollment(*tx, new_device_id, std::move(token));
}

ApiResult<Enrollment> SqliteDeviceRegistry::commit_enrollment(storage::Transaction& tx,
                                                              std::string_view device_id,
                                                              std::string token) {
    return rules::enrollment_answer(
        load_device(device_id), [&] { return tx.commit(); }, std::move(token));
}

// ---- reports -------------------------------------------------------------------------------

Result<void> SqliteDeviceRegistry::update_report(const std::string& device_id,
                                                 const SyncReport& report, bool pushed,
                                                 std::optional<std::int64_t> acked_seq) {
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
    s.bind(4, m_clock());
    s.bind(5, report.app_version);
    s.bind(6, report.queue_depth);
    s.bind(7, report.has_oldest_unsynced);
    s.bind(8, report.oldest_unsynced);
    return s.run();
}

Result<void> SqliteDeviceRegistry::record_pull(const DeviceRecord& device,
                                               const SyncReport& report) {
    return update_report(device.device_id, report, false, std::nullopt);
}

Result<void> SqliteDeviceRegistry::record_push(const DeviceRecord& device, const SyncReport& report,
                                               std::int64_t acked_seq) {
    return update_report(device.device_id, report, true, acked_seq);
}

Result<void> SqliteDeviceRegistry::reissue_token(std::string_view device_id,
                                                 const std::string& token) {
    auto update = m_db.cached("UPDATE enrolled_devices SET token_hash = ?"
                              " WHERE device_id = ? AND first_used_at IS NULL");
    if (!update) {
        return tl::unexpected(update.error());
    }
    (*update)->bind_all(hash_secret(token), std::string(device_id));
    return (*update)->run();
}

} // namespace caravan::sync::server
