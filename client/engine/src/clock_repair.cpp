// Recovery of a device whose clock was poisoned (docs/sync-algorithm.md, "Clock rules"): before
// the bound on received clocks existed, one far-ahead value pulled from another device became
// this device's clock, and its own events were stamped beyond anything the server accepts (or,
// at 7fffffffffffffff, with an overflowed negative value). Those of its events the server has
// not acknowledged are stamped again here; nothing is dropped, nothing acknowledged changes.
#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base_versions.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "engine_write_state.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

using nlohmann::json;
using storage::Event;

namespace {

// The first own event the server has not acknowledged whose clock lies beyond the bound.
Result<std::optional<std::int64_t>> first_beyond(storage::Database& db, const std::string& me,
                                                 std::int64_t acked, Hlc ceiling) {
    return db
        .query("SELECT min(seq) FROM events WHERE device_id = ? AND seq > ?"
               " AND (hlc < 0 OR hlc > ?)",
               me, acked, ceiling.value)
        .one<std::int64_t>();
}

} // namespace

Result<std::int64_t> Engine::acked_seq() {
    auto text = m_settings.get(key::push_acked_seq);
    if (!text) {
        return tl::unexpected(text.error());
    }
    if (!*text) {
        return 0;
    }
    try {
        return std::max<std::int64_t>(0, std::stoll(**text));
    } catch (const std::exception&) {
        return 0; // unreadable: nothing counts as acknowledged (the server has the last say)
    }
}

Result<std::int64_t> Engine::repair_clock() {
    // Looked at first without the write lock: a sync must not wait for a lawyer's recording
    // (nor fail on a full disk) only to find that nothing needs repair.
    const std::int64_t now = m_options.clock();
    auto me = m_settings.get(key::device_id);
    auto stored = me ? m_settings.get(key::hlc) : decltype(me)();
    if (!me || !stored) {
        return tl::unexpected(!me ? me.error() : stored.error());
    }
    if (!*me) {
        return 0;
    }
    bool needed = false;
    if (*stored) {
        auto h = Hlc::from_hex(**stored);
        needed = !h || beyond_ceiling(*h, now, Hlc::k_device_max_lead_ms);
    }
    if (!needed) {
        auto acked = acked_seq();
        if (!acked) {
            return tl::unexpected(acked.error());
        }
        auto first =
            first_beyond(m_db, **me, *acked, clock_ceiling(now, Hlc::k_device_max_lead_ms));
        if (!first) {
            return tl::unexpected(first.error());
        }
        needed = first->has_value();
    }
    if (!needed) {
        return 0;
    }
    std::int64_t restamped = 0;
    auto ok = write([&]() -> Result<void> {
        auto n = restamp_unsent(m_options.clock());
        if (!n) {
            return tl::unexpected(n.error());
        }
        restamped = *n;
        return {};
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return restamped;
}

Result<std::int64_t> Engine::restamp_unsent(std::int64_t now_ms) {
    if (!m_write || m_write->device_id.empty()) {
        return 0;
    }
    const std::string& me = m_write->device_id;
    const Hlc ceiling = clock_ceiling(now_ms, Hlc::k_device_max_lead_ms);
    auto acked = acked_seq();
    if (!acked) {
        return tl::unexpected(acked.error());
    }
    auto first = first_beyond(m_db, me, *acked, ceiling);
    if (!first) {
        return tl::unexpected(first.error());
    }
    const bool clock_poisoned =
        beyond_ceiling(m_write->clock.last(), now_ms, Hlc::k_device_max_lead_ms);
    if (!*first && !clock_poisoned) {
        return 0;
    }
    // Start from the greatest believable value this device has seen (so edits stay ordered after
    // what their author saw), and past this device's own events that stay as they are.
    auto seen = m_db.query("SELECT max(hlc) FROM events WHERE hlc >= 0 AND hlc <= ?", ceiling.value)
                    .one<std::int64_t>();
    auto own_before =
        m_db.query("SELECT max(hlc) FROM events WHERE device_id = ? AND seq < ? AND hlc >= 0", me,
                   first->value_or(std::numeric_limits<std::int64_t>::max()))
            .one<std::int64_t>();
    if (!seen || !own_before) {
        return tl::unexpected(!seen ? seen.error() : own_before.error());
    }
    HlcClock clock(Hlc{std::max(seen->value_or(0), own_before->value_or(0))});
    std::int64_t restamped = 0;
    if (*first) {
        std::map<std::string, std::string> renamed; // old version → new version
        auto update = m_db.prepare("UPDATE events SET hlc = ?, payload = ?"
                                   " WHERE device_id = ? AND seq = ?");
        if (!update) {
            return tl::unexpected(update.error());
        }
        for (std::int64_t after = **first - 1;;) {
            auto chunk = m_log.device_events(me, after, 500);
            if (!chunk) {
                return tl::unexpected(chunk.error());
            }
            if (chunk->empty()) {
                break;
            }
            after = chunk->back().seq;
            for (Event& e : *chunk) {
                json payload = json::parse(e.payload, nullptr, false);
                if (payload.is_object() && rename_base_versions(payload, renamed)) {
                    e.payload = payload.dump();
                }
                const Hlc fresh = clock.tick(now_ms);
                renamed.emplace(version_of(e.hlc, me), version_of(fresh.value, me));
                update->reset();
                update->bind_all(fresh.value, e.payload, me, e.seq);
                if (auto ok = update->run(); !ok) {
                    return tl::unexpected(ok.error());
                }
                ++restamped;
            }
        }
        // Every version string that named an old clock value is in the projections: rebuilt
        // from the log, they name the new ones.
        if (auto ok = client::rebuild_projections(m_db, m_projector); !ok) {
            return tl::unexpected(ok.error());
        }
        m_current_visit.reset();
    }
    m_write->clock = clock;
    return restamped;
}

} // namespace caravan::client
