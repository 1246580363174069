#include "elastic_pool.hpp"

#include <algorithm>
#include <chrono>
#include <system_error>

namespace caravan::sync::server {

ElasticPool::ElasticPool(std::size_t base, std::size_t cap)
    : m_base(base), m_cap(std::max(base, cap)) {
    std::lock_guard lock(m_mutex);
    for (std::size_t i = 0; i < m_base; ++i) {
        start_worker();
    }
}

ElasticPool::~ElasticPool() {
    shutdown();
}

ElasticPool::Counts ElasticPool::counts() {
    std::lock_guard lock(m_mutex);
    return Counts{m_live, m_live - m_idle, m_cap, m_jobs.size()};
}

void ElasticPool::enqueue(std::function<void()> fn) {
    {
        std::lock_guard lock(m_mutex);
        m_jobs.push_back(std::move(fn));
        if (m_idle < m_jobs.size() && m_live < m_cap) {
            start_worker();
        }
    }
    m_ready.notify_one();
}

void ElasticPool::shutdown() {
    {
        std::lock_guard lock(m_mutex);
        if (m_stopping) {
            return;
        }
        m_stopping = true;
    }
    m_ready.notify_all();
    std::map<std::size_t, std::thread> threads;
    {
        std::unique_lock lock(m_mutex);
        m_drained.wait(lock, [&] { return m_live == 0; });
        threads.swap(m_threads);
    }
    for (auto& [id, t] : threads) {
        t.join();
    }
}

void ElasticPool::start_worker() {
    for (std::size_t id : m_finished) {
        m_threads.at(id).join();
        m_threads.erase(id);
    }
    m_finished.clear();
    const std::size_t id = m_next_id++;
    try {
        m_threads.emplace(id, std::thread([this, id] { work(id); }));
    } catch (const std::system_error&) {
        // Out of threads: the job waits for a busy worker, as with a fixed pool. Only the
        // first `base` workers, started with the server, let the failure escape.
        if (m_live < m_base) {
            throw;
        }
        return;
    }
    ++m_live;
}

void ElasticPool::work(std::size_t id) {
    std::unique_lock lock(m_mutex);
    for (;;) {
        ++m_idle;
        bool woke = m_ready.wait_for(lock, std::chrono::seconds(60),
                                     [&] { return m_stopping || !m_jobs.empty(); });
        --m_idle;
        if (m_stopping && m_jobs.empty()) {
            break;
        }
        if (!woke) {
            if (m_live > m_base) {
                break; // an extra worker with nothing to do for a minute
            }
            continue;
        }
        std::function<void()> job = std::move(m_jobs.front());
        m_jobs.pop_front();
        lock.unlock();
        job();
        lock.lock();
    }
    --m_live;
    if (!m_stopping) {
        m_finished.push_back(id);
    }
    m_drained.notify_all();
}

} // namespace caravan::sync::server
