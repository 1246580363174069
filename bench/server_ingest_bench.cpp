// Server ingest under concurrency: N enrolled devices push bounded numbers of batches at the
// same time, each from its own thread with its own keep-alive connection, as the nightly sync
// window would have them. Prints events/s and request latency percentiles, then a coordinator's
// full pull, a verify, and `check` on the resulting database.
//
// Baseline, in the same run: one device pushing the same amount alone (no contention), so the
// ratio shows what concurrency costs or gains on this machine.
//
// usage: server_ingest_bench [devices=50] [batches=20] [events_per_batch=100] [threads=64]

#include <filesystem>

#include "caravan/sync/server/maintenance.hpp"
#include "caravan/sync/server/server.hpp"
#include "caravan/sync/server/store.hpp"
#include "ingest_support.hpp"

using namespace caravan;
using namespace caravan::bench;
namespace srv = caravan::sync::server;

namespace {

using namespace caravan::bench::ingest;
namespace fs = std::filesystem;

// A device enrolled with a code made on `store`.
Device enroll(int port, srv::Store& store, srv::Role role) {
    std::vector<std::string> regions;
    if (role == srv::Role::lawyer) {
        regions.push_back(k_region);
    }
    return enroll_with_code(
        port, must(store.registry().create_code({"Bench Lawyer", regions, role, 72}), "code"));
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
    coordinator_pull(server->port(), coordinator);
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
