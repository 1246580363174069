#pragma once
// End-to-end checks that read the server's store (the sync tests'; the app's tests include
// e2e_support.hpp without linking the server).

#include <memory>
#include <vector>

#include "caravan/sync/server/store.hpp"
#include "e2e_support.hpp"

namespace caravan::test::e2e {

// The server's store, for a test to inspect (database(): the SQLite file, or on PostgreSQL
// a projection cache caught up to the feed; the registry's tables only through registry()).
inline std::unique_ptr<sync::server::Store> inspect(const Server& server) {
    sync::server::StoreOptions o;
    o.create = false;
    o.integrity_check = false;
    if (server.store().empty()) {
        return ok(sync::server::Store::open(server.data() / "server.db", o));
    }
    o.cache_dir = server.data().string() + ".inspect-cache";
    auto store = ok(sync::server::Store::open_postgresql(
        std::make_shared<sync::server::pg::Pool>(server.store(), 1), o));
    ok(store->refresh());
    return store;
}

// Every event of every laptop is on the server exactly once (in the feed or, if refused, among
// the rejected events, never both), with the content the laptop holds.
inline void require_exactly_once(const Server& server, const std::vector<const Laptop*>& laptops) {
    auto store = inspect(server);
    storage::Database& db = store->database();
    std::map<std::pair<std::string, std::int64_t>, std::pair<int, std::string>> held;
    for (std::string_view sql :
         {"SELECT device_id, seq, payload, 'feed' FROM events",
          "SELECT device_id, seq, payload, 'rejected' FROM rejected_events"}) {
        auto stmt = ok(db.prepare(sql));
        for (;;) {
            bool row = ok(stmt.step());
            if (!row) {
                break;
            }
            auto& slot = held[{stmt.column_text(0), stmt.column_int(1)}];
            ++slot.first;
            slot.second = stmt.column_text(2);
        }
    }
    for (const Laptop* laptop : laptops) {
        std::string id = laptop->device_id();
        auto events = laptop->own_events();
        REQUIRE(!events.empty());
        for (const auto& [seq, e] : events) {
            INFO("device " << id << " seq " << seq);
            auto it = held.find({id, seq});
            REQUIRE(it != held.end());
            REQUIRE(it->second.first == 1);
            REQUIRE(it->second.second == e.payload);
        }
        std::int64_t beyond = 0;
        for (const auto& [key, v] : held) {
            if (key.first == id && key.second > events.rbegin()->first) {
                ++beyond;
            }
        }
        REQUIRE(beyond == 0);
    }
}

// With the link healthy again: every laptop syncs twice (pushes, then learns everyone's
// pushes), then the server must hold every event exactly once and all laptops converge.
inline void settle(const Server& server, const std::vector<std::unique_ptr<Laptop>>& laptops) {
    std::vector<const Laptop*> all;
    for (const auto& l : laptops) {
        l->must_sync();
        all.push_back(l.get());
    }
    for (const auto& l : laptops) {
        l->must_sync();
    }
    require_exactly_once(server, all);
    require_converged(all);
}

} // namespace caravan::test::e2e
