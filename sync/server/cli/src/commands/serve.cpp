// caravan-server serve: runs the sync server (sync/server/server.hpp) until SIGTERM or SIGINT.

#include <malloc.h>

#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/server.hpp"

namespace caravan::sync::server {
namespace {

Result<std::pair<std::string, int>> parse_listen(const std::string& text) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
        return fail(ErrorCode::invalid_input, "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
    }
    std::string host = text.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    int port = 0;
    for (char c : text.substr(colon + 1)) {
        if (c < '0' || c > '9' || port > 65535) {
            return fail(ErrorCode::invalid_input, "--listen: the port must be 0 to 65535");
        }
        port = port * 10 + (c - '0');
    }
    if (port > 65535) {
        return fail(ErrorCode::invalid_input, "--listen: the port must be 0 to 65535");
    }
    return std::pair{host, port};
}

// The addresses only this machine can reach: plain HTTP there crosses no network (a TLS
// reverse proxy on the same machine is the usual client).
bool is_loopback_host(const std::string& host) {
    return host == "localhost" || host == "::1" || host.starts_with("127.");
}

struct TlsOptions {
    std::string cert;
    std::string key;
    bool insecure_http = false;
};

// Resource limits of `serve` (ServerOptions, docs/operations.md).
struct LimitOptions {
    std::size_t per_address = ServerOptions{}.max_connections_per_address;
    std::size_t max_connections = ServerOptions{}.max_connections;
    double header_timeout_s = ServerOptions{}.header_timeout_ms / 1000.0;
    double request_timeout_s = ServerOptions{}.request_timeout_ms / 1000.0;
};

struct ServeOptions {
    std::string listen = "127.0.0.1:8080";
    std::size_t threads = 64;
    std::size_t pg_pool = ServerOptions{}.pg_pool_size;
    TlsOptions tls;
    LimitOptions limits;
};

Result<void> serve(Context& ctx, const ServeOptions& o) {
    const TlsOptions& tls = o.tls;
    const LimitOptions& limits = o.limits;
    auto address = parse_listen(o.listen);
    if (!address) {
        return tl::unexpected(address.error());
    }
    if (tls.cert.empty() != tls.key.empty()) {
        return fail(ErrorCode::invalid_input,
                    "--tls-cert and --tls-key go together: give both (HTTPS) or neither");
    }
    if (tls.cert.empty() && !is_loopback_host(address->first) && !tls.insecure_http) {
        return fail(ErrorCode::invalid_input,
                    "refusing to serve plain HTTP on " + address->first +
                        ": tokens and records would cross the network unencrypted. Give "
                        "--tls-cert and --tls-key, listen on 127.0.0.1 behind a TLS proxy, or "
                        "pass --insecure-http on a network you trust");
    }
    // Signals are taken synchronously by this thread; every thread started from here on
    // (the listener and the workers) inherits the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    // glibc raises its mmap threshold after the first large block is freed, and then keeps up
    // to twice that at the top of each thread's arena: after a few 8 MiB bodies on a few
    // workers the process kept ~85 MiB it no longer used. Fixed thresholds (which turn the
    // dynamic adjustment off) put every block of 1 MiB or more in its own mapping, returned on
    // free, and trim an arena's free top beyond 4 MiB.
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    mallopt(M_TRIM_THRESHOLD, 4 << 20);

    ServerOptions options;
    options.data_dir = ctx.data;
    options.store_url = ctx.store;
    options.pg_pool_size = o.pg_pool;
    options.host = address->first;
    options.port = address->second;
    options.threads = o.threads;
    options.tls_cert = tls.cert;
    options.tls_key = tls.key;
    options.max_connections_per_address = limits.per_address;
    options.max_connections = limits.max_connections;
    options.header_timeout_ms = static_cast<int>(limits.header_timeout_s * 1000);
    options.request_timeout_ms = static_cast<int>(limits.request_timeout_s * 1000);
    options.front_end = ctx.front_end;
    auto server = Server::start(options);
    if (!server) {
        return tl::unexpected(server.error());
    }
    std::string shown =
        options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    ctx.out << "listening on " << shown << ":" << (*server)->port() << std::endl;
    ctx.err << "caravan-server: serving " << ((*server)->tls() ? "HTTPS (TLS 1.2+)" : "plain HTTP")
            << std::endl;
    if (options.front_end) {
        ctx.err << "caravan-server: the coordinator's dashboard is at "
                << ((*server)->tls() ? "https://" : "http://") << shown << ":" << (*server)->port()
                << "/ (accounts: caravan-server user add)" << std::endl;
    }
    for (;;) {
        timespec tick{1, 0};
        int sig = sigtimedwait(&signals, nullptr, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            ctx.err << "caravan-server: stopping (signal " << sig << ")" << std::endl;
            break;
        }
        if (!(*server)->running()) {
            return fail(ErrorCode::io, "the listener stopped unexpectedly");
        }
    }
    (*server)->stop();
    ctx.err << "caravan-server: stopped" << std::endl;
    return {};
}

const bool registered = register_command("serve", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<ServeOptions>();
    auto* serve_cmd = app.add_subcommand("serve", "Run the sync server until SIGTERM/SIGINT");
    registry.add_data(*serve_cmd);
    registry.add_store(*serve_cmd);
    serve_cmd
        ->add_option("--pg-pool", o->pg_pool,
                     "PostgreSQL connections this process opens at most (with --store)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    serve_cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")
        ->capture_default_str();
    serve_cmd
        ->add_option("--threads", o->threads,
                     "Worker threads (at least the devices syncing at once)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    serve_cmd->add_option("--tls-cert", o->tls.cert,
                          "Serve HTTPS with this certificate chain (PEM, leaf first)");
    serve_cmd->add_option("--tls-key", o->tls.key,
                          "Private key (PEM, unencrypted, owner-only) of --tls-cert");
    serve_cmd->add_flag("--insecure-http", o->tls.insecure_http,
                        "Allow plain HTTP on a non-loopback address (trusted networks only)");
    serve_cmd
        ->add_option("--max-connections-per-address", o->limits.per_address,
                     "Connections served at once from one client address")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    serve_cmd
        ->add_option("--max-connections", o->limits.max_connections,
                     "Connections served at once in all (0: max(8 x threads, 512))")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    serve_cmd
        ->add_option("--header-timeout", o->limits.header_timeout_s,
                     "Seconds a request may take to send its request line and headers")
        ->check(CLI::Range(0.05, 3600.0))
        ->capture_default_str();
    serve_cmd
        ->add_option("--request-timeout", o->limits.request_timeout_s,
                     "Seconds a whole request (headers and body) may take to arrive")
        ->check(CLI::Range(0.05, 86400.0))
        ->capture_default_str();
    serve_cmd->callback(
        [&registry, o] { registry.set([o](Context& ctx) { return serve(ctx, *o); }); });
});

} // namespace
} // namespace caravan::sync::server
