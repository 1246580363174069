// Ingest on either store, as deployed (issue 15's figures): real `caravan-server serve`
// processes, in one run
//   1. the embedded store (SQLite), one process;
//   2. PostgreSQL, one process;
//   3. PostgreSQL, two processes on one database, the devices enrolled at each in turn.
// N devices push B batches of E events at once, each from its own thread and keep-alive
// connection; then a coordinator pulls the whole feed from the first process and verifies it.
// Prints events/s, p50/p99 push latency, the pull, and each server process's peak resident
// set (VmHWM). PostgreSQL is a throwaway cluster on this machine (tests/support/pg_cluster.hpp:
// Unix socket, fsync off), one fresh database per configuration; its own processes' memory is
// not counted. Asserts nothing.
//
// Each process: 64 workers, 128 connections per address (the devices all come from 127.0.0.1).
//
// usage: store_ingest_bench [devices=50] [batches=20] [events_per_batch=100]

#include <csignal>
#include <filesystem>
#include <memory>

#include "ingest_support.hpp"
#include "pg_cluster.hpp"
#include "server_process.hpp"

using namespace caravan;
using namespace caravan::bench;
using namespace caravan::bench::ingest;

namespace {

struct Config {
    std::string label;
    bool postgresql = false;
    int processes = 1;
};

void run(const Config& config, int devices_n, int batches, std::size_t per_batch) {
    print_row("---", config.label);
    ScratchDir dir;
    const std::string url = config.postgresql ? test::PgCluster::shared().database() : "";
    std::vector<std::unique_ptr<ServerProcess>> servers;
    for (int i = 0; i < config.processes; ++i) {
        // Every device connects from 127.0.0.1 (as from one load balancer): the per-address
        // limit (32 by default) must admit all of them at once.
        servers.push_back(std::make_unique<ServerProcess>(
            dir / ("server" + std::to_string(i)), url,
            std::vector<std::string>{"--threads", "64", "--max-connections-per-address", "128"}));
    }
    std::vector<Device> devices;
    for (int i = 0; i < devices_n; ++i) {
        const ServerProcess& at = *servers[static_cast<std::size_t>(i) % servers.size()];
        devices.push_back(enroll_with_code(at.port(), at.code(k_region)));
    }
    Device coordinator = enroll_with_code(servers[0]->port(), servers[0]->code(""));
    for (const auto& s : servers) {
        s->reset_peak();
    }
    Run all = push_all(servers[0]->port(), devices, batches, per_batch);
    print_run(std::to_string(devices_n) + " devices", all);
    coordinator_pull(servers[0]->port(), coordinator);
    for (std::size_t i = 0; i < servers.size(); ++i) {
        print_row("server process " + std::to_string(i + 1) + ": peak RSS (push + pull)",
                  fmt(static_cast<double>(servers[i]->kib("VmHWM")) / 1024.0, 1) + " MiB");
    }
}

} // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN); // a connection the server closes is a failure, not a crash
    const int devices_n = argc > 1 ? std::atoi(argv[1]) : 50;
    const int batches = argc > 2 ? std::atoi(argv[2]) : 20;
    const std::size_t per_batch = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 100;
    if (devices_n < 1 || batches < 1 || per_batch < 1) {
        std::fprintf(stderr, "usage: store_ingest_bench [devices] [batches] [events_per_batch]\n");
        return 2;
    }
    print_title("store ingest: " + std::to_string(devices_n) + " devices x " +
                std::to_string(batches) + " batches x " + std::to_string(per_batch) +
                " events, real server processes");
    print_machine();
    run({"embedded store (SQLite), 1 process", false, 1}, devices_n, batches, per_batch);
    if (!test::PgCluster::shared().available()) {
        print_row("PostgreSQL", "not run: " + test::PgCluster::shared().why_not());
        print_load();
        return 0;
    }
    run({"PostgreSQL, 1 process", true, 1}, devices_n, batches, per_batch);
    run({"PostgreSQL, 2 processes", true, 2}, devices_n, batches, per_batch);
    print_load();
    return 0;
}
