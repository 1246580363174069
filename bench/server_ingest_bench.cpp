// Server ingest under concurrency: N enrolled devices push bounded numbers of batches at the
// same time, each from its own thread with its own keep-alive connection, as the nightly sync
// window would have them. Prints events/s and request latency percentiles, then a coordinator's
// full pull, a verify, and `check` on the resulting database.
//
// Baseline, in the same run: one device pushing the same amount alone (no contention), so the
// ratio shows what concurrency costs or gains on this machine.
//
// usage: server_ingest_bench [devices=50] [batches=20] [events_per_batch=100] [threads=64]

#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/maintenance.hpp"
#include "caravan/sync/server/server.hpp"
#include "caravan/sync/server/store.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;
using nlohmann::json;
namespace srv = caravan::sync::server;

namespace {

constexpr std::int64_t k_day_ms = 1715680800000;
const std::string k_region = "Жамбыл обл.";
namespace fs = std::filesystem;

struct Device {
    std::string id;
    std::string token;
    int port = 0; // the server it was enrolled at, and pushes to
};

std::string new_id() {
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

httplib::Headers headers(const std::string& token) {
    return {{"Authorization", "Bearer " + token},
            {"X-Caravan-Protocol", "1"},
            {"X-Caravan-App-Version", "caravan/bench"},
            {"Accept-Encoding", "zstd"}};
}

Device enroll(int port, srv::Store& store, srv::Role role) {
    std::vector<std::string> regions;
    if (role == srv::Role::lawyer) {
        regions.push_back(k_region);
    }
    std::string code =
        must(store.registry().create_code({"Bench Lawyer", regions, role, 72}), "code");
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
Run push_all(int port, const std::vector<Device>& devices, int batches, std::size_t per_batch) {
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

void print_run(const std::string& label, const Run& run) {
    Summary s = summarize(run.latencies_s);
    print_row(label + ": events", std::to_string(run.events) + " in " + fmt(run.wall_s, 2) +
                                      " s = " + fmt(run.events / run.wall_s, 0) + " events/s");
    print_row(label + ": requests", std::to_string(s.n) + ", failures " +
                                        std::to_string(run.failures) + ", " +
                                        fmt(run.bytes_up / 1048576.0, 1) + " MiB up (zstd)");
    print_row(label + ": latency", fmt_ms(s));
}

} // namespace

int main(int argc, char** argv) {
    const int devices_n = argc > 1 ? std::atoi(argv[1]) : 50;
    const int batches = argc > 2 ? std::atoi(argv[2]) : 20;
    const std::size_t per_batch = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 100;
    const std::size_t threads = argc > 4 ? static_cast<std::size_t>(std::atoi(argv[4])) : 64;

    print_title("server ingest: " + std::to_string(devices_n) + " devices x " +
                std::to_string(batches) + " batches x " + std::to_string(per_batch) + " events, " +
                std::to_string(threads) + " server threads");
    print_machine();

    // CARAVAN_BENCH_STORE=postgresql://...: the PostgreSQL store (a fresh, empty database);
    // CARAVAN_BENCH_SERVERS=2: two servers on it, the devices enrolled at each in turn.
    const char* store_env = std::getenv("CARAVAN_BENCH_STORE");
    const std::string store_url = store_env ? store_env : "";
    const char* servers_env = std::getenv("CARAVAN_BENCH_SERVERS");
    const int servers_n = servers_env && std::atoi(servers_env) == 2 && !store_url.empty() ? 2 : 1;
    print_row("store", store_url.empty()
                           ? std::string("embedded (SQLite)")
                           : "PostgreSQL, " + std::to_string(servers_n) + " server(s)");
    auto start = [&](const fs::path& data) {
        srv::ServerOptions options;
        options.data_dir = data;
        options.store_url = store_url;
        options.port = 0;
        options.threads = threads;
        options.access_log = false;
        return must(srv::Server::start(options), "start");
    };
    auto open_store = [&](const fs::path& data) {
        if (store_url.empty()) {
            return must(srv::Store::open(data / "server.db"), "store");
        }
        srv::StoreOptions o;
        o.cache_dir = data / "bench-cache";
        return must(srv::Store::open_postgresql(std::make_shared<srv::pg::Pool>(store_url, 1), o),
                    "store");
    };

    // Baseline: one device alone, the same per-device work (on PostgreSQL: the same database,
    // before the others).
    Run alone;
    {
        ScratchDir dir;
        auto server = start(dir / "data");
        auto store = open_store(dir / "data");
        std::vector<Device> one{enroll(server->port(), *store, srv::Role::lawyer)};
        alone = push_all(server->port(), one, batches, per_batch);
    }
    print_run("1 device (baseline)", alone);

    ScratchDir dir;
    auto server = start(dir / "data");
    std::unique_ptr<srv::Server> second;
    if (servers_n == 2) {
        second = start(dir / "data2");
    }
    auto store = open_store(dir / "data");
    std::vector<Device> devices;
    for (int i = 0; i < devices_n; ++i) {
        devices.push_back(
            enroll(i % 2 && second ? second->port() : server->port(), *store, srv::Role::lawyer));
    }
    Device coordinator = enroll(server->port(), *store, srv::Role::coordinator);

    Run all = push_all(server->port(), devices, batches, per_batch);
    print_run(std::to_string(devices_n) + " devices", all);
    print_row("throughput ratio (concurrent / alone)",
              fmt((all.events / all.wall_s) / (alone.events / alone.wall_s), 2));

    // A coordinator pulls the whole feed, as a fresh laptop would.
    {
        httplib::Client client("127.0.0.1", server->port());
        client.set_read_timeout(std::chrono::seconds(120));
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
                return 1;
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
    server.reset();
    second.reset();
    if (!store_url.empty()) {
        print_load();
        return all.failures == 0 ? 0 : 1;
    }
    double c0 = now_s();
    auto report = must(srv::check(dir / "data"), "check");
    print_row("check (integrity + rebuild)", fmt(now_s() - c0, 2) + " s for " +
                                                 std::to_string(report.events) + " events, " +
                                                 (report.ok() ? "ok" : "PROBLEMS"));
    print_load();
    return all.failures == 0 ? 0 : 1;
}
