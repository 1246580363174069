#include "sqlite_event_feed.hpp"

#include <algorithm>

#include "caravan/client/entities.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/storage/transaction.hpp"
#include "ingest.hpp"
#include "registry_rules.hpp"

namespace caravan::sync::server {

using storage::Event;
using storage::Statement;

namespace {

// Pulled events stop short of this many bytes of payload (plus a per-event allowance), far
// below the 8 MiB a peer accepts.
constexpr std::int64_t k_pull_budget_bytes = 4 << 20;
constexpr std::int64_t k_event_overhead_bytes = 256;
constexpr std::int64_t k_default_pull_limit = 1000;

ApiError internal(const Error& error) {
    return api_error_from(error);
}

std::string region_keys_json(const DeviceRecord& device) {
    nlohmann::json keys = nlohmann::json::array();
    for (const std::string& r : device.regions) {
        keys.push_back(region_key(r));
    }
    return keys.dump();
}

} // namespace

SqliteEventFeed::SqliteEventFeed(storage::Database& db, DeviceRegistry& lineage,
                                 SqliteDeviceRegistry* registry,
                                 std::function<std::int64_t()> clock)
    : m_db(db), m_lineage(lineage), m_registry(registry), m_log(db), m_projector(db),
      m_clock(std::move(clock)) {}

Result<std::string> SqliteEventFeed::epoch() {
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

Result<std::int64_t> SqliteEventFeed::head() {
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

// ---- push ----------------------------------------------------------------------------------

ApiResult<PushResponse> SqliteEventFeed::push(const DeviceRecord& device,
                                              const PushRequest& request,
                                              const SyncReport& report) {
    if (!m_registry) {
        return tl::unexpected(internal(Error{ErrorCode::internal, "a read-only feed cannot push"}));
    }
    if (auto valid = validate_push(device, request); !valid) {
        return tl::unexpected(valid.error());
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
    auto me = m_registry->current_device(device);
    if (!me) {
        return tl::unexpected(me.error());
    }
    if (auto ok = rules::may_push(*me); !ok) {
        return tl::unexpected(ok.error());
    }
    auto ingest = Ingest::prepare(m_db, m_log, m_projector, *me, m_clock());
    if (!ingest) {
        return tl::unexpected(internal(ingest.error()));
    }
    PushResponse response;
    response.epoch = *epoch_value;
    if (auto ok = ingest->take_all(request.events, response.results); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = m_registry->record_push(*me, report, ingest->acked()); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(internal(ok.error()));
    }
    response.acked_seq = ingest->acked();
    return response;
}

// ---- change feed ---------------------------------------------------------------------------

Result<void> SqliteEventFeed::visible_events(const DeviceRecord& device, std::int64_t from,
                                             std::int64_t to, std::int64_t limit,
                                             const std::function<bool(Event&)>& visit,
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
    auto lineage = m_lineage.lineage_json(device);
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

ApiResult<PullResponse> SqliteEventFeed::pull(const DeviceRecord& device, std::int64_t after,
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

ApiResult<VerifyResult> SqliteEventFeed::verify(const DeviceRecord& device,
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

ApiResult<StatusResult> SqliteEventFeed::status(const DeviceRecord& device) {
    auto top = head();
    if (!top) {
        return tl::unexpected(internal(top.error()));
    }
    return StatusResult{device.acked_seq, *top};
}

Result<std::vector<client::ConflictEntry>> SqliteEventFeed::conflicts() {
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
        auto deleted = m_db.prepare("SELECT coalesce(deleted, 0) FROM " + std::string(def->table) +
                                    " WHERE id = ?");
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

} // namespace caravan::sync::server
