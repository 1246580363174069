#pragma once
// What the ingest benchmarks share (server_ingest_bench.cpp: servers in the benchmark's process;
// store_ingest_bench.cpp: real server processes on either store): a device's realistic events,
// enrollment, N devices pushing at once with their latencies, a coordinator's full pull.

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "support.hpp"

namespace caravan::bench::ingest {

using nlohmann::json;

constexpr std::int64_t k_day_ms = 1715680800000;
inline const std::string k_region = "Жамбыл обл.";

struct Device {
    std::string id;
    std::string token;
    int port = 0; // the server it was enrolled at, and pushes to
};

inline std::string new_id() {
    static std::atomic<std::int64_t> tick{0};
    return client::uuid_v7(k_day_ms + tick.fetch_add(1));
}

// Realistic events of one device: itself, a village, a visit, then consultations.
class Generator {
  public:
    explicit Generator(std::string device) : m_device(std::move(device)) {}

    std::vector<storage::Event> next_batch(std::size_t n) {
        std::vector<storage::Event> events;
        if (m_seq == 0) {
            m_village = new_id();
            m_visit = new_id();
            events.push_back(
                make("device", m_device,
                     {{"lawyer", "Bench Lawyer"}, {"region", k_region}, {"deleted", false}}));
            events.push_back(make("village", m_village,
                                  {{"name", "Ауыл " + m_device.substr(30)},
                                   {"region", k_region},
                                   {"deleted", false}}));
            events.push_back(make("visit", m_visit,
                                  {{"village_id", m_village},
                                   {"date", "2024-05-14"},
                                   {"lawyer", "Bench Lawyer"},
                                   {"closed", false},
                                   {"deleted", false}}));
        }
        while (events.size() < n) {
            auto input = sample_consultation(static_cast<std::uint64_t>(m_seq));
            events.push_back(make("consultation", new_id(),
                                  {{"visit_id", m_visit},
                                   {"lawyer", "Bench Lawyer"},
                                   {"gender", "female"},
                                   {"age", "33-45"},
                                   {"category", "unemployed"},
                                   {"vulnerable", true},
                                   {"topics", {"land", "family"}},
                                   {"outcome", "advice"},
                                   {"question", input.question},
                                   {"advice", input.advice},
                                   {"follow_up", false},
                                   {"lang", "kk"},
                                   {"deleted", false}}));
        }
        return events;
    }
    [[nodiscard]] std::int64_t seq() const { return m_seq; }

  private:
    storage::Event make(std::string_view type, const std::string& id, json fields) {
        storage::Event e;
        e.device_id = m_device;
        e.seq = ++m_seq;
        e.hlc = ((k_day_ms + m_seq) << 16);
        e.entity_type = std::string(type);
        e.entity_id = id;
        e.op = "create";
        e.payload = sync::canonical_payload(json{{"fields", std::move(fields)}});
        e.schema_version = 1;
        return e;
    }
    std::string m_device, m_village, m_visit;
    std::int64_t m_seq = 0;
};

inline httplib::Headers headers(const std::string& token) {
    return {{"Authorization", "Bearer " + token},
            {"X-Caravan-Protocol", "1"},
            {"X-Caravan-App-Version", "caravan/bench"},
            {"Accept-Encoding", "zstd"}};
}

// Enrolls a new device at the server on `port` with `code`; exits on failure.
inline Device enroll_with_code(int port, const std::string& code) {
    httplib::Client client("127.0.0.1", port);
    std::string id = new_id();
    auto r = client.Post("/v1/enroll", {{"X-Caravan-Protocol", "1"}},
                         json{{"code", code}, {"device_id", id}}.dump(), "application/json");
    if (!r || r->status != 200) {
        std::fprintf(stderr, "enrollment failed\n");
        std::exit(1);
    }
    return {id, json::parse(r->body)["token"], port};
}

struct Run {
    double wall_s = 0;
    std::int64_t events = 0;
    std::int64_t bytes_up = 0;
    std::vector<double> latencies_s;
    int failures = 0;
};

// Every device pushes `batches` batches of `per_batch` events, all devices at once.
inline Run push_all(int port, const std::vector<Device>& devices, int batches,
                    std::size_t per_batch) {
    Run run;
    std::mutex mutex;
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (const Device& d : devices) {
        threads.emplace_back([&, d] {
            httplib::Client client("127.0.0.1", d.port ? d.port : port);
            client.set_keep_alive(true);
            // As libcurl does by default: without it, Nagle holds the body behind the headers
            // until the server's delayed ACK (40 ms per request on loopback).
            client.set_tcp_nodelay(true);
            client.set_read_timeout(std::chrono::seconds(120));
            Generator gen(d.id);
            std::vector<double> mine;
            std::int64_t bytes = 0, events = 0;
            int failures = 0;
            // Bodies are prepared before the clock starts: the client's cost is not the server's.
            std::vector<std::string> bodies;
            for (int b = 0; b < batches; ++b) {
                auto events_json =
                    sync::to_json(sync::PushRequest{d.id, gen.next_batch(per_batch)});
                bodies.push_back(*sync::compress(events_json.dump(), sync::Encoding::zstd));
            }
            while (!go.load()) {
                std::this_thread::yield();
            }
            auto hdrs = headers(d.token);
            hdrs.emplace("Content-Encoding", "zstd");
            for (const std::string& body : bodies) {
                double t0 = now_s();
                auto r = client.Post("/v1/push", hdrs, body, "application/json; charset=utf-8");
                mine.push_back(now_s() - t0); // seconds, as fmt_ms expects
                if (!r || r->status != 200) {
                    ++failures;
                    continue;
                }
                bytes += static_cast<std::int64_t>(body.size());
                events += static_cast<std::int64_t>(per_batch);
            }
            std::lock_guard lock(mutex);
            run.latencies_s.insert(run.latencies_s.end(), mine.begin(), mine.end());
            run.bytes_up += bytes;
            run.events += events;
            run.failures += failures;
        });
    }
    double t0 = now_s();
    go = true;
    for (auto& t : threads) {
        t.join();
    }
    run.wall_s = now_s() - t0;
    return run;
}

inline void print_run(const std::string& label, const Run& run) {
    Summary s = summarize(run.latencies_s);
    print_row(label + ": events", std::to_string(run.events) + " in " + fmt(run.wall_s, 2) +
                                      " s = " + fmt(run.events / run.wall_s, 0) + " events/s");
    print_row(label + ": requests", std::to_string(s.n) + ", failures " +
                                        std::to_string(run.failures) + ", " +
                                        fmt(run.bytes_up / 1048576.0, 1) + " MiB up (zstd)");
    print_row(label + ": latency", fmt_ms(s));
}

// A coordinator pulls the whole feed from the server on `port`, as a fresh laptop would, then
// asks for a verification of it. Prints events/s, bytes and per-page latency; exits on failure.
inline void coordinator_pull(int port, const Device& coordinator) {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(std::chrono::seconds(300));
    std::int64_t after = 0, pulled = 0, bytes = 0;
    std::vector<double> latencies;
    double t0 = now_s();
    for (;;) {
        double r0 = now_s();
        auto r = client.Get(("/v1/pull?after=" + std::to_string(after) + "&limit=5000").c_str(),
                            headers(coordinator.token));
        latencies.push_back(now_s() - r0);
        if (!r || r->status != 200) {
            std::fprintf(stderr, "pull failed\n");
            std::exit(1);
        }
        bytes += static_cast<std::int64_t>(r->body.size());
        auto text = sync::decompress(r->body, r->get_header_value("Content-Encoding") == "zstd"
                                                  ? sync::Encoding::zstd
                                                  : sync::Encoding::identity);
        auto page = sync::pull_response_from_json(json::parse(*text));
        pulled += static_cast<std::int64_t>(page->events.size());
        after = page->next_after;
        if (!page->more) {
            break;
        }
    }
    double wall = now_s() - t0;
    print_row("coordinator pull", std::to_string(pulled) + " events in " + fmt(wall, 2) +
                                      " s = " + fmt(pulled / wall, 0) + " events/s, " +
                                      fmt(bytes / 1048576.0, 1) + " MiB down (zstd)");
    print_row("coordinator pull: latency per page", fmt_ms(summarize(latencies)));

    double v0 = now_s();
    auto v = client.Get("/v1/verify", headers(coordinator.token));
    print_row("verify (whole feed)",
              fmt((now_s() - v0) * 1000, 0) + " ms, HTTP " + std::to_string(v ? v->status : 0));
}

} // namespace caravan::bench::ingest
