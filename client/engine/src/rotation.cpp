// Device rotation, the local half (engine.hpp, reissue_under_new_id; docs/sync-algorithm.md 9).
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "base_versions.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/transaction.hpp"
#include "engine_write_state.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

namespace {

using nlohmann::json;
using storage::Event;

Result<std::int64_t> max_clock(storage::Database& db) {
    CARAVAN_TRY(hlc, db.query("SELECT coalesce(max(hlc), 0) FROM events").one<std::int64_t>());
    return hlc.value_or(0);
}

Result<std::int64_t> max_clock_within(storage::Database& db, Hlc ceiling) {
    CARAVAN_TRY(hlc,
                db.query("SELECT coalesce(max(hlc), 0) FROM events WHERE hlc >= 0 AND hlc <= ?",
                         ceiling.value)
                    .one<std::int64_t>());
    return hlc.value_or(0);
}

} // namespace

Result<Engine::Reissued> Engine::reissue_under_new_id(const std::string& old_id,
                                                      const std::string& new_id,
                                                      std::int64_t from_seq, std::int64_t now_ms,
                                                      const std::function<Result<void>()>& finish) {
    // Not write(): that would first repair a poisoned clock, which the rewrite does its own way
    // (it starts from the greatest believable value), and it would store the clock it read at
    // the start. The write state is set up here so that `finish` can call engine methods that
    // join this transaction.
    if (m_write) {
        // i18n-exempt: a bug in the caller (rotation inside a batch), never shown to a user.
        return fail(ErrorCode::internal, "reissue_under_new_id inside a batch");
    }
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    m_write = std::make_unique<WriteState>(
        WriteState{std::move(*tx), HlcClock(), 0, std::string(), std::nullopt, std::nullopt});
    auto result = reissue(old_id, new_id, from_seq, now_ms);
    if (result && !result->already) {
        Result<void> ok = finish();
        if (ok) {
            // `finish` may have stamped something with the clock (an engine write that joined).
            ok = m_settings.set(key::hlc, m_write->clock.last().to_hex());
        }
        if (ok) {
            ok = m_write->tx.commit();
        }
        if (!ok) {
            result = tl::unexpected(ok.error());
        }
    }
    m_write.reset(); // rolls back unless committed
    m_current_visit.reset();
    return result;
}

Result<Engine::Reissued> Engine::reissue(const std::string& old_id, const std::string& new_id,
                                         std::int64_t from_seq, std::int64_t now_ms) {
    auto device = this->device();
    if (!device) {
        return tl::unexpected(device.error());
    }
    Reissued result;
    if (device->id == new_id) {
        result.already = true;
        return result;
    }
    if (device->id != old_id) {
        return fail(ErrorCode::conflict, msg::rotate_foreign_database);
    }
    auto taken = m_log.last_seq(new_id);
    if (!taken) {
        return tl::unexpected(taken.error());
    }
    if (*taken > 0) {
        return fail(ErrorCode::conflict, msg::rotate_id_taken);
    }

    // The clock starts past everything this database holds: the re-issued events are the
    // newest writes it knows of, as they were when first recorded on this (restored) copy.
    auto stored = m_settings.get(key::hlc);
    auto highest = max_clock(m_db);
    if (!stored || !highest) {
        return tl::unexpected(!stored ? stored.error() : highest.error());
    }
    Hlc start{*highest};
    if (*stored) {
        if (auto h = Hlc::from_hex(**stored); h && *h > start) {
            start = *h;
        }
    }
    // Never from beyond the bound (docs/sync-algorithm.md, clock rules): a far-ahead value in
    // this log (a poisoned clock's) would otherwise stamp every re-issued event out of reach of
    // the server. The new id's log is empty, so nothing of its own has to be exceeded.
    if (beyond_ceiling(start, now_ms, Hlc::k_device_max_lead_ms)) {
        auto believable =
            max_clock_within(m_db, clock_ceiling(now_ms, Hlc::k_device_max_lead_ms));
        if (!believable) {
            return tl::unexpected(believable.error());
        }
        start = Hlc{*believable};
    }
    HlcClock clock(start);

    std::vector<Event> old_events;
    for (std::int64_t after = from_seq - 1;;) {
        auto chunk = m_log.device_events(old_id, after, 500);
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
    if (auto removed = m_log.remove_from(old_id, from_seq); !removed) {
        return tl::unexpected(removed.error());
    }

    std::int64_t seq = 0;
    auto append = [&](Event e) -> Result<void> {
        e.device_id = new_id;
        e.seq = ++seq;
        e.server_seq.reset();
        e.log_position = 0;
        // Our own events, already in the log: judged by the rules they were written under.
        if (auto valid = validate_event(e, EventCheck::stored); !valid) {
            return tl::unexpected(valid.error());
        }
        auto added = m_log.append(e);
        if (!added) {
            return tl::unexpected(added.error());
        }
        return {};
    };

    // The new id describes itself, as `caravan init` does for a new device.
    Event self;
    self.hlc = clock.tick(now_ms).value;
    self.entity_type = std::string(entities::device.type);
    self.entity_id = new_id;
    self.op = "create";
    self.payload =
        json{{"fields",
              {{"lawyer", device->lawyer}, {"region", device->region}, {"deleted", false}}}}
            .dump();
    self.schema_version = k_event_schema_version;
    if (auto ok = append(self); !ok) {
        return tl::unexpected(ok.error());
    }

    std::map<std::string, std::string> renamed; // old version → new version
    for (Event e : old_events) {
        const bool about_old_device =
            e.entity_type == entities::device.type && e.entity_id == old_id;
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
        rename_base_versions(payload, renamed);
        e.payload = payload.dump();
        e.hlc = clock.tick(now_ms).value;
        renamed.emplace(old_version, version_of(e.hlc, new_id));
        if (auto ok = append(std::move(e)); !ok) {
            return tl::unexpected(ok.error());
        }
        ++result.reissued;
    }
    result.new_last_seq = seq;

    if (auto ok = client::rebuild_projections(m_db, m_projector); !ok) {
        return tl::unexpected(ok.error());
    }
    m_current_visit.reset();
    // The new identity, with nothing of it acknowledged yet.
    if (auto ok = m_settings.set(key::device_id, new_id); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = m_settings.set(key::push_acked_seq, "0"); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = m_settings.set(key::hlc, clock.last().to_hex()); !ok) {
        return tl::unexpected(ok.error());
    }
    m_write->clock = clock;
    m_write->device_id = new_id;
    m_write->next_seq = seq + 1;
    m_write->device = Device{new_id, device->lawyer, device->region};
    return result;
}

} // namespace caravan::client
