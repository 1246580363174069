#include "report_cache.hpp"

namespace caravan::dashboard {

Result<std::string> ReportCache::version_of(sync::server::Store& store) {
    // The head first: it starts the read snapshot (BEGIN DEFERRED) that the computation uses.
    CARAVAN_TRY(head, store.database()
                          .query("SELECT coalesce(max(log_position), 0) FROM events")
                          .one<std::int64_t>());
    CARAVAN_TRY(epoch, store.feed().epoch());
    return epoch + ":" + std::to_string(head.value_or(0));
}

std::shared_ptr<const void> ReportCache::find(const std::string& version,
                                              const std::string& key) {
    std::lock_guard lock(m_mutex);
    for (auto it = m_entries.begin(); it != m_entries.end(); ++it) {
        if (it->version == version && it->key == key) {
            m_entries.splice(m_entries.begin(), m_entries, it);
            return it->value;
        }
    }
    return nullptr;
}

void ReportCache::insert(const std::string& version, const std::string& key,
                         std::shared_ptr<const void> value) {
    std::lock_guard lock(m_mutex);
    // Entries of another version never answer again (a head only moves on; a new epoch is a
    // new store), nor does an older entry of this key (a request that missed at the same time).
    m_entries.remove_if(
        [&](const Entry& e) { return e.version != version || e.key == key; });
    m_entries.push_front(Entry{version, key, std::move(value)});
    while (m_entries.size() > m_capacity) {
        m_entries.pop_back();
    }
}

std::size_t ReportCache::size() const {
    std::lock_guard lock(m_mutex);
    return m_entries.size();
}

} // namespace caravan::dashboard
