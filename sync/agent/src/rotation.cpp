#include "caravan/sync/agent/rotation.hpp"

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/sync/agent/messages.hpp"

namespace caravan::sync::agent {

namespace {

using nlohmann::json;
using storage::Event;

// The engine's own settings keys (client/engine/src/settings_keys.hpp): the identity and the clock.
constexpr std::string_view k_device_id_key = "device_id";
constexpr std::string_view k_hlc_key = "hlc";

std::string version_of(std::int64_t hlc, std::string_view device_id) {
    return client::Hlc{hlc}.to_hex() + "@" + std::string(device_id);
}

Result<std::int64_t> max_clock(storage::Database& db) {
    auto stmt = db.prepare("SELECT coalesce(max(hlc), 0) FROM events");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    auto row = stmt->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    return *row ? stmt->column_int(0) : 0;
}

Result<std::int64_t> max_clock_within(storage::Database& db, client::Hlc ceiling) {
    auto stmt = db.prepare("SELECT coalesce(max(hlc), 0) FROM events WHERE hlc >= 0 AND hlc <= ?");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    stmt->bind(1, ceiling.value);
    auto row = stmt->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    return *row ? stmt->column_int(0) : 0;
}

Result<void> run(storage::Database& db, std::string_view sql, const std::string& device_id,
                 std::int64_t from_seq) {
    auto stmt = db.prepare(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    stmt->bind_all(device_id, from_seq);
    return stmt->run();
}

} // namespace

Result<ReissueResult> reissue_under_new_id(client::Engine& engine, const std::string& old_id,
                                           const std::string& new_id, std::int64_t from_seq,
                                           std::int64_t now_ms,
                                           const std::function<Result<void>()>& finish) {
    storage::Database& db = engine.database();
    storage::Settings settings(db);
    auto tx = storage::Transaction::begin(db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    auto device = engine.device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    ReissueResult result;
    if (device->id == new_id) {
        result.already = true;
        return result;
    }
    if (device->id != old_id) {
        return fail(ErrorCode::conflict, msg::rotate_foreign_database);
    }
    auto taken = engine.event_log().last_seq(new_id);
    if (!taken) {
        return tl::unexpected(taken.error());
    }
    if (*taken > 0) {
        return fail(ErrorCode::conflict, msg::rotate_id_taken);
    }

    // The clock starts past everything this database holds: the re-issued events are the
    // newest writes it knows of, as they were when first recorded on this (restored) copy.
    client::HlcClock clock;
    auto stored = settings.get(k_hlc_key);
    auto highest = max_clock(db);
    if (!stored || !highest) {
        return tl::unexpected(!stored ? stored.error() : highest.error());
    }
    client::Hlc start{*highest};
    if (*stored) {
        if (auto h = client::Hlc::from_hex(**stored); h && *h > start) {
            start = *h;
        }
    }
    // Never from beyond the bound (docs/sync-algorithm.md, clock rules): a far-ahead value in
    // this log (a poisoned clock's) would otherwise stamp every re-issued event out of reach of
    // the server. The new id's log is empty, so nothing of its own has to be exceeded.
    if (client::beyond_ceiling(start, now_ms, client::Hlc::k_device_max_lead_ms)) {
        auto believable =
            max_clock_within(db, client::clock_ceiling(now_ms, client::Hlc::k_device_max_lead_ms));
        if (!believable) {
            return tl::unexpected(believable.error());
        }
        start = client::Hlc{*believable};
    }
    clock = client::HlcClock(start);

    std::vector<Event> old_events;
    for (std::int64_t after = from_seq - 1;;) {
        auto chunk = engine.event_log().device_events(old_id, after, 500);
        if (!chunk) {
            return tl::unexpected(chunk.error());
        }
        if (chunk->empty()) {
            break;
        }
        after = chunk->back().seq;
        for (auto& e : *chunk) {
            old_events.push_back(std::move(e));
        }
    }

    if (auto removed = engine.event_log().remove_from(old_id, from_seq); !removed) {
        return tl::unexpected(removed.error());
    }
    if (auto ok =
            run(db, "DELETE FROM quarantine WHERE device_id = ? AND seq >= ?", old_id, from_seq);
        !ok) {
        return tl::unexpected(ok.error());
    }

    std::int64_t seq = 0;
    auto append = [&](Event e) -> Result<void> {
        e.device_id = new_id;
        e.seq = ++seq;
        e.server_seq.reset();
        e.log_position = 0;
        // Our own events, already in the log: judged by the rules they were written under.
        if (auto valid = client::validate_event(e, client::EventCheck::stored); !valid) {
            return tl::unexpected(valid.error());
        }
        auto added = engine.event_log().append(e);
        if (!added) {
            return tl::unexpected(added.error());
        }
        return {};
    };

    // The new id describes itself, as `caravan init` does for a new device.
    Event self;
    self.hlc = clock.tick(now_ms).value;
    self.entity_type = std::string(client::entities::device.type);
    self.entity_id = new_id;
    self.op = "create";
    self.payload =
        json{{"fields",
              {{"lawyer", device->lawyer}, {"region", device->region}, {"deleted", false}}}}
            .dump();
    self.schema_version = client::k_event_schema_version;
    if (auto ok = append(self); !ok) {
        return tl::unexpected(ok.error());
    }

    std::map<std::string, std::string> renamed; // old version → new version
    for (Event e : old_events) {
        const bool about_old_device =
            e.entity_type == client::entities::device.type && e.entity_id == old_id;
        if (about_old_device && e.op == "create") {
            continue; // the new id's own record (above) replaces it
        }
        if (about_old_device) {
            e.entity_id = new_id;
        }
        const std::string old_version = version_of(e.hlc, old_id);
        json payload = json::parse(e.payload, nullptr, false);
        if (payload.is_discarded() || !payload.is_object()) {
            return fail(ErrorCode::corrupt, msg::rotate_unreadable_event, e.seq);
        }
        if (auto base = payload.find("base"); base != payload.end() && base->is_object()) {
            for (auto& [field, version] : base->items()) {
                if (version.is_string()) {
                    if (auto it = renamed.find(version.get<std::string>()); it != renamed.end()) {
                        version = it->second;
                    }
                }
            }
        }
        e.payload = payload.dump();
        e.hlc = clock.tick(now_ms).value;
        renamed.emplace(old_version, version_of(e.hlc, new_id));
        if (auto ok = append(std::move(e)); !ok) {
            return tl::unexpected(ok.error());
        }
        ++result.reissued;
    }
    result.new_last_seq = seq;

    if (auto ok = engine.projector().rebuild(); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = settings.set(k_device_id_key, new_id); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = settings.set(k_hlc_key, clock.last().to_hex()); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = finish(); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = tx->commit(); !ok) {
        return tl::unexpected(ok.error());
    }
    return result;
}

} // namespace caravan::sync::agent
