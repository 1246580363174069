#pragma once
// The report pages' results (activity, breakdowns, indicators) kept in memory while the store
// does not change (issue 13): recomputing a report reads every visit's records, seconds at a
// million events, so a page read again over an unchanged store answers from here.
//
// - An entry is keyed by the store's version and the request: the feed's epoch and the last
//   log position of the projections' database, read inside the read snapshot that then
//   computes the result (so a result is never filed under a version older than what it
//   counted), and the page's kind, scope and plan. A push moves the log's head: the next
//   request misses and recomputes; entries of an older version are dropped on the next insert.
// - Bounded: at most `capacity` entries (least recently used first out), all of one version
//   in practice.
// - The lock is held only to look up and to insert, never while computing, and the
//   computation runs on a read connection (never under the server's write lock). Two requests
//   that miss at once both compute; the second insert replaces the first.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "caravan/client/export/snapshot.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/sync/server/store.hpp"

namespace caravan::dashboard {

class ReportCache {
  public:
    static constexpr std::size_t k_capacity = 16;

    explicit ReportCache(std::size_t capacity = k_capacity) : m_capacity(capacity) {}

    // Within one read snapshot of `store`'s projections: the result filed under `key` for the
    // store's current version, else `compute(database)` (a Result<T>), filed when it succeeds.
    template <class T, class Compute>
    [[nodiscard]] Result<T> get(sync::server::Store& store, const std::string& key,
                                Compute&& compute) {
        CARAVAN_TRY(snapshot, client::exports::ReadSnapshot::begin(store.database()));
        CARAVAN_TRY(version, version_of(store));
        if (auto found = find(version, key)) {
            ++m_hits;
            return *std::static_pointer_cast<const T>(found);
        }
        ++m_misses;
        Result<T> computed = compute(store.database());
        if (computed) {
            insert(version, key, std::make_shared<const T>(*computed));
        }
        (void)snapshot;
        return computed;
    }

    // Lookups answered from memory and computed, since the start (tests, the bench's reading).
    [[nodiscard]] std::int64_t hits() const { return m_hits; }
    [[nodiscard]] std::int64_t misses() const { return m_misses; }
    [[nodiscard]] std::size_t size() const;

  private:
    struct Entry {
        std::string version, key;
        std::shared_ptr<const void> value;
    };
    // "epoch:head" of `store` as its projections' database sees it now.
    [[nodiscard]] static Result<std::string> version_of(sync::server::Store& store);
    [[nodiscard]] std::shared_ptr<const void> find(const std::string& version,
                                                   const std::string& key);
    void insert(const std::string& version, const std::string& key,
                std::shared_ptr<const void> value);

    std::size_t m_capacity;
    mutable std::mutex m_mutex;
    std::list<Entry> m_entries; // most recently used first
    std::atomic<std::int64_t> m_hits{0}, m_misses{0};
};

} // namespace caravan::dashboard
