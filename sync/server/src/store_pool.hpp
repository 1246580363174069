#pragma once
// A fixed set of Store connections shared by the HTTP worker threads. acquire() hands one out
// for the duration of a request and waits when all are in use (there are as many as workers,
// so it normally does not wait).

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
        m_ready.notify_one();
    }

    Lease acquire() {
        std::unique_lock lock(m_mutex);
        m_ready.wait(lock, [&] { return !m_free.empty(); });
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

    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::vector<std::unique_ptr<Store>> m_free;
};

} // namespace caravan::sync::server
