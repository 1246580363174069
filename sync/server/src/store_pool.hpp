#pragma once
// A fixed set of Store connections shared by the HTTP worker threads. acquire() hands one out
// for the duration of a request and waits when all are in use (there are as many as workers,
// so it normally does not wait). No route holds one while a request body arrives (server.cpp),
// so a slow client cannot starve the others of connections.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "caravan/sync/server/store.hpp"

namespace caravan::sync::server {

class StorePool {
  public:
    class Lease {
      public:
        Lease(StorePool& pool, std::unique_ptr<Store> store)
            : m_pool(&pool), m_store(std::move(store)) {}
        Lease(Lease&& other) noexcept = default;
        Lease& operator=(Lease&&) = delete;
        ~Lease() {
            if (m_store) {
                m_pool->give_back(std::move(m_store));
            }
        }
        Store& operator*() { return *m_store; }
        Store* operator->() { return m_store.get(); }

      private:
        StorePool* m_pool;
        std::unique_ptr<Store> m_store;
    };

    void add(std::unique_ptr<Store> store) {
        std::lock_guard lock(m_mutex);
        m_free.push_back(std::move(store));
        ++m_size;
        m_ready.notify_one();
    }

    struct Counts {
        std::size_t size = 0;    // connections in the pool
        std::size_t in_use = 0;  // leased now
        std::size_t waiting = 0; // acquire() calls waiting for one
    };
    [[nodiscard]] Counts counts() const {
        std::lock_guard lock(m_mutex);
        return Counts{m_size, m_size - m_free.size(), m_waiting};
    }

    Lease acquire() {
        std::unique_lock lock(m_mutex);
        ++m_waiting;
        m_ready.wait(lock, [&] { return !m_free.empty(); });
        --m_waiting;
        std::unique_ptr<Store> store = std::move(m_free.back());
        m_free.pop_back();
        return Lease(*this, std::move(store));
    }

  private:
    void give_back(std::unique_ptr<Store> store) {
        std::lock_guard lock(m_mutex);
        m_free.push_back(std::move(store));
        m_ready.notify_one();
    }

    mutable std::mutex m_mutex;
    std::condition_variable m_ready;
    std::vector<std::unique_ptr<Store>> m_free;
    std::size_t m_size = 0;
    std::size_t m_waiting = 0;
};

} // namespace caravan::sync::server
