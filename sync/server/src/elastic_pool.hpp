#pragma once
// The worker threads that serve HTTP connections (cpp-httplib's TaskQueue).
//
// cpp-httplib serves each connection on one worker for as long as it is kept alive, so a fixed
// pool of N workers serves at most N devices at once, and device N+1 waits for a whole session
// of another to end (measured: 100 devices on 64 workers, p99 7 s against 1.4 s for 50). This
// queue keeps `base` workers and starts another whenever a connection arrives and none is idle,
// up to `cap`; the extra ones end after a minute without work. Store connections are not tied
// to workers (StorePool hands one out per request), so an idle kept-alive connection holds a
// thread and nothing else.
//
// Contract: enqueue() never blocks; shutdown() runs the jobs already queued, joins every worker
// and is idempotent (the destructor calls it). counts() may be called from any thread.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

namespace caravan::sync::server {

class ElasticPool final : public httplib::TaskQueue {
  public:
    ElasticPool(std::size_t base, std::size_t cap);
    ~ElasticPool() override;
    ElasticPool(const ElasticPool&) = delete;
    ElasticPool& operator=(const ElasticPool&) = delete;

    struct Counts {
        std::size_t live = 0;   // worker threads
        std::size_t busy = 0;   // serving a connection
        std::size_t max = 0;    // the cap
        std::size_t queued = 0; // accepted connections waiting for a worker
    };
    [[nodiscard]] Counts counts();

    void enqueue(std::function<void()> fn) override;
    void shutdown() override;

  private:
    // Under m_mutex. Joins the workers that ended (they hold no lock any more) first.
    void start_worker();
    void work(std::size_t id);

    const std::size_t m_base;
    const std::size_t m_cap;
    std::mutex m_mutex;
    std::condition_variable m_ready;
    std::condition_variable m_drained;
    std::deque<std::function<void()>> m_jobs;
    std::map<std::size_t, std::thread> m_threads;
    std::vector<std::size_t> m_finished; // ended, not joined yet
    std::size_t m_next_id = 0;
    std::size_t m_live = 0;
    std::size_t m_idle = 0;
    bool m_stopping = false;
};

} // namespace caravan::sync::server
