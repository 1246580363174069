#include "caravan/sync/server/cli.hpp"

#include <malloc.h>

#include <pthread.h>
#include <signal.h>

#include <ctime>
#include <functional>
#include <iostream>
#include <optional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "caravan/sync/server/maintenance.hpp"
#include "caravan/sync/server/server.hpp"
#include "caravan/sync/server/store.hpp"

namespace caravan::sync::server {

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Context {
    std::ostream& out;
    std::ostream& err;
};

using Action = std::function<Result<void>(Context&)>;

StoreOptions existing() {
    StoreOptions o;
    o.create = false;
    o.integrity_check = false;
    return o;
}

std::string optional_time(const std::optional<std::int64_t>& ms) {
    return ms ? iso_utc(*ms) : "-";
}

json device_json(const DeviceRecord& d) {
    return {{"device_id", d.device_id},
            {"short_id", client::short_id(d.device_id)},
            {"lawyer", d.lawyer},
            {"role", to_string(d.role)},
            {"regions", d.regions},
            {"enrolled_at", iso_utc(d.enrolled_at_ms)},
            {"last_sync", d.last_sync_ms ? json(iso_utc(*d.last_sync_ms)) : json(nullptr)},
            {"acked_seq", d.acked_seq},
            {"queue_depth", d.queue_depth ? json(*d.queue_depth) : json(nullptr)},
            {"oldest_unsynced", d.oldest_unsynced ? json(*d.oldest_unsynced) : json(nullptr)},
            {"app_version", d.app_version ? json(*d.app_version) : json(nullptr)},
            {"revoked", d.revoked()},
            {"revoked_at", d.revoked_at_ms ? json(iso_utc(*d.revoked_at_ms)) : json(nullptr)},
            {"successor", d.successor ? json(*d.successor) : json(nullptr)},
            {"predecessor", d.predecessor ? json(*d.predecessor) : json(nullptr)},
            {"rotated_at", d.rotated_at_ms ? json(iso_utc(*d.rotated_at_ms)) : json(nullptr)}};
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    auto width = [](const std::string& s) {
        std::size_t n = 0;
        for (unsigned char c : s) {
            n += (c & 0xC0) != 0x80; // count code points, not bytes
        }
        return n;
    };
    std::vector<std::size_t> widths(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) {
        widths[i] = width(header[i]);
        for (const auto& row : rows) {
            widths[i] = std::max(widths[i], width(row[i]));
        }
    }
    auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            out << cells[i];
            if (i + 1 < cells.size()) {
                out << std::string(widths[i] - width(cells[i]) + 2, ' ');
            }
        }
        out << "\n";
    };
    line(header);
    for (const auto& row : rows) {
        line(row);
    }
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
    std::string s;
    for (const auto& item : items) {
        s += (s.empty() ? "" : std::string(sep)) + item;
    }
    return s;
}

// ---- serve ---------------------------------------------------------------------------------

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

Result<void> serve(Context& ctx, const fs::path& data, const std::string& listen,
                   std::size_t threads, const TlsOptions& tls, const LimitOptions& limits) {
    auto address = parse_listen(listen);
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
    options.data_dir = data;
    options.host = address->first;
    options.port = address->second;
    options.threads = threads;
    options.tls_cert = tls.cert;
    options.tls_key = tls.key;
    options.max_connections_per_address = limits.per_address;
    options.max_connections = limits.max_connections;
    options.header_timeout_ms = static_cast<int>(limits.header_timeout_s * 1000);
    options.request_timeout_ms = static_cast<int>(limits.request_timeout_s * 1000);
    auto server = Server::start(options);
    if (!server) {
        return tl::unexpected(server.error());
    }
    std::string shown =
        options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
    ctx.out << "listening on " << shown << ":" << (*server)->port() << std::endl;
    ctx.err << "caravan-server: serving " << ((*server)->tls() ? "HTTPS (TLS 1.2+)" : "plain HTTP")
            << std::endl;
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

// ---- commands ------------------------------------------------------------------------------

Result<void> enroll_code(Context& ctx, const fs::path& data, const CodeRequest& request) {
    StoreOptions o;
    o.integrity_check = false;
    // The directory is created owner-only like `serve` would; no lock is needed to add a code.
    std::error_code ec;
    if (!fs::exists(data, ec)) {
        if (auto lock = DataDirLock::acquire(data); !lock) {
            return tl::unexpected(lock.error());
        }
    }
    auto store = Store::open(database_path(data), o);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto code = (*store)->registry().create_code(request);
    if (!code) {
        return tl::unexpected(code.error());
    }
    ctx.out << *code << "\n";
    ctx.err << "caravan-server: single-use code for a " << to_string(request.role) << ", valid "
            << request.ttl_hours << " h\n";
    return {};
}

Result<void> list_devices(Context& ctx, const fs::path& data, bool as_json) {
    auto store = Store::open(database_path(data), existing());
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto devices = (*store)->registry().devices();
    if (!devices) {
        return tl::unexpected(devices.error());
    }
    if (as_json) {
        json list = json::array();
        for (const auto& d : *devices) {
            list.push_back(device_json(d));
        }
        ctx.out << list.dump(2) << "\n";
        return {};
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& d : *devices) {
        rows.push_back({d.device_id, d.lawyer, std::string(to_string(d.role)),
                        d.regions.empty() ? "(all)" : join(d.regions, ", "),
                        iso_utc(d.enrolled_at_ms), optional_time(d.last_sync_ms),
                        std::to_string(d.acked_seq),
                        d.queue_depth ? std::to_string(*d.queue_depth) : "-",
                        d.oldest_unsynced.value_or("-"), d.app_version.value_or("-"),
                        d.revoked() ? "revoked " + optional_time(d.revoked_at_ms) : "no",
                        d.successor     ? "→ " + client::short_id(*d.successor)
                        : d.predecessor ? "← " + client::short_id(*d.predecessor)
                                        : "-"});
    }
    print_table(ctx.out,
                {"device", "lawyer", "role", "regions", "enrolled", "last sync", "acked", "queue",
                 "oldest unsynced", "app", "revoked", "rotation"},
                rows);
    return {};
}

Result<void> revoke_device(Context& ctx, const fs::path& data, const std::string& ref) {
    auto store = Store::open(database_path(data), existing());
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto device = (*store)->registry().revoke(ref);
    if (!device) {
        return tl::unexpected(device.error());
    }
    ctx.out << "revoked " << device->device_id << " at " << optional_time(device->revoked_at_ms)
            << "\n";
    return {};
}

Result<void> list_conflicts(Context& ctx, const fs::path& data, bool as_json) {
    auto store = Store::open(database_path(data), existing());
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto list = (*store)->feed().conflicts();
    if (!list) {
        return tl::unexpected(list.error());
    }
    if (as_json) {
        json out = json::array();
        for (const auto& c : *list) {
            out.push_back(client::to_json(c));
        }
        ctx.out << out.dump(2) << "\n";
        return {};
    }
    for (const auto& c : *list) {
        const auto kept = c.kept(), lost = c.overwritten();
        const std::string record = client::escape_controls(c.entity_type + " " + c.entity_id);
        if (c.delete_vs_edit()) {
            ctx.out << record << ": deleted while edited on another device; kept: the deletion ("
                    << kept.version << "); the edit " << client::escape_controls(lost.value)
                    << " (" << lost.version << ") "
                    << (c.record_deleted ? "is hidden with the record"
                                         : "is visible again: the record was undeleted since")
                    << "\n";
            continue;
        }
        ctx.out << record << " " << client::escape_controls(c.field) << ": kept "
                << client::escape_controls(kept.value) << " (" << kept.version
                << "), overwritten " << client::escape_controls(lost.value) << " ("
                << lost.version << ")\n";
    }
    if (list->empty()) {
        ctx.err << "caravan-server: no conflicts\n";
    }
    return {};
}

Result<void> run_backup(Context& ctx, const fs::path& data, const fs::path& file) {
    if (auto ok = backup(data, file); !ok) {
        return ok;
    }
    ctx.out << "backup written to " << file.string() << "\n";
    return {};
}

Result<void> run_restore(Context& ctx, const fs::path& data, const fs::path& file) {
    auto result = restore(data, file);
    if (!result) {
        return tl::unexpected(result.error());
    }
    ctx.out << "restored " << file.string() << "; new epoch " << result->epoch << "\n";
    if (!result->replaced.empty()) {
        ctx.out << "the previous database was kept as " << result->replaced.string() << "\n";
    }
    return {};
}

Result<void> run_check(Context& ctx, const fs::path& data, bool as_json) {
    auto report = check(data);
    if (!report) {
        return tl::unexpected(report.error());
    }
    if (as_json) {
        ctx.out << json{{"ok", report->ok()},
                        {"problems", report->problems},
                        {"events", report->events},
                        {"rejected", report->rejected},
                        {"devices", report->devices},
                        {"fingerprint", report->fingerprint},
                        {"rebuilt_fingerprint", report->rebuilt_fingerprint}}
                       .dump(2)
                << "\n";
    } else {
        for (const auto& p : report->problems) {
            ctx.out << "problem: " << p << "\n";
        }
        ctx.out << (report->ok() ? "ok" : "FAILED") << ": " << report->events << " events, "
                << report->rejected << " rejected, " << report->devices << " devices; projections "
                << report->fingerprint.substr(0, 16)
                << (report->fingerprint == report->rebuilt_fingerprint ? " == " : " != ")
                << "rebuilt " << report->rebuilt_fingerprint.substr(0, 16) << "\n";
    }
    if (!report->ok()) {
        return fail(ErrorCode::corrupt,
                    "the check found " + std::to_string(report->problems.size()) + " problem(s)");
    }
    return {};
}

} // namespace

int cli_exit_code(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_input:
    case ErrorCode::not_found:
    case ErrorCode::ambiguous:
    case ErrorCode::not_initialized:
        return 2;
    default:
        return 1;
    }
}

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
            const std::vector<CliExtension>& extensions) {
    CLI::App app{"caravan-server: the central sync server of Caravan", "caravan-server"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("caravan-server ") + CARAVAN_VERSION);

    Action action;
    std::string data;
    auto add_data = [&](CLI::App* cmd) {
        cmd->add_option("--data", data, "Server data directory (holds server.db)")->required();
    };

    std::string listen = "127.0.0.1:8080";
    std::size_t threads = 64;
    auto* serve_cmd = app.add_subcommand("serve", "Run the sync server until SIGTERM/SIGINT");
    add_data(serve_cmd);
    serve_cmd->add_option("--listen", listen, "HOST:PORT to listen on (port 0: any free port)")
        ->capture_default_str();
    serve_cmd
        ->add_option("--threads", threads, "Worker threads (at least the devices syncing at once)")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    TlsOptions tls;
    serve_cmd->add_option("--tls-cert", tls.cert,
                          "Serve HTTPS with this certificate chain (PEM, leaf first)");
    serve_cmd->add_option("--tls-key", tls.key,
                          "Private key (PEM, unencrypted, owner-only) of --tls-cert");
    serve_cmd->add_flag("--insecure-http", tls.insecure_http,
                        "Allow plain HTTP on a non-loopback address (trusted networks only)");
    LimitOptions limits;
    serve_cmd
        ->add_option("--max-connections-per-address", limits.per_address,
                     "Connections served at once from one client address")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    serve_cmd
        ->add_option("--max-connections", limits.max_connections,
                     "Connections served at once in all (0: max(8 x threads, 512))")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    serve_cmd
        ->add_option("--header-timeout", limits.header_timeout_s,
                     "Seconds a request may take to send its request line and headers")
        ->check(CLI::Range(0.05, 3600.0))
        ->capture_default_str();
    serve_cmd
        ->add_option("--request-timeout", limits.request_timeout_s,
                     "Seconds a whole request (headers and body) may take to arrive")
        ->check(CLI::Range(0.05, 86400.0))
        ->capture_default_str();
    serve_cmd->callback([&] {
        action = [&](Context& ctx) { return serve(ctx, data, listen, threads, tls, limits); };
    });

    CodeRequest code;
    std::string role = "lawyer";
    auto* code_cmd = app.add_subcommand("enroll-code", "Issue a single-use enrollment code");
    add_data(code_cmd);
    code_cmd->add_option("--lawyer", code.lawyer, "Name of the lawyer the device belongs to")
        ->required();
    code_cmd->add_option("--region", code.regions, "Region the device may sync (repeatable)");
    code_cmd->add_option("--role", role, "lawyer or coordinator")
        ->check(CLI::IsMember({"lawyer", "coordinator"}))
        ->capture_default_str();
    code_cmd->add_option("--ttl", code.ttl_hours, "Hours the code stays valid")
        ->capture_default_str();
    code_cmd->callback([&] {
        code.role = parse_role(role).value_or(Role::lawyer);
        action = [&](Context& ctx) { return enroll_code(ctx, data, code); };
    });

    bool as_json = false;
    std::string device_ref;
    auto* devices_cmd = app.add_subcommand("devices", "List enrolled devices and their last sync");
    devices_cmd->add_option("--data", data, "Server data directory (holds server.db)");
    devices_cmd->add_flag("--json", as_json, "Print one JSON document");
    devices_cmd->require_subcommand(0, 1);
    auto* revoke_cmd = devices_cmd->add_subcommand("revoke", "Cut a device off at once");
    revoke_cmd->add_option("DEVICE", device_ref, "Device id or its short form (last 8)")
        ->required();
    revoke_cmd->add_option("--data", data, "Server data directory (holds server.db)");
    devices_cmd->callback([&] {
        if (data.empty()) {
            throw CLI::RequiredError("--data");
        }
        if (revoke_cmd->parsed()) {
            action = [&](Context& ctx) { return revoke_device(ctx, data, device_ref); };
        } else {
            action = [&](Context& ctx) { return list_devices(ctx, data, as_json); };
        }
    });

    auto* conflicts_cmd =
        app.add_subcommand("conflicts", "Concurrent edits of one field seen by the server");
    add_data(conflicts_cmd);
    conflicts_cmd->add_flag("--json", as_json, "Print one JSON document");
    conflicts_cmd->callback(
        [&] { action = [&](Context& ctx) { return list_conflicts(ctx, data, as_json); }; });

    std::string file;
    auto* backup_cmd = app.add_subcommand("backup", "Online backup of the server database");
    add_data(backup_cmd);
    backup_cmd->add_option("FILE", file, "Backup file to write")->required();
    backup_cmd->callback(
        [&] { action = [&](Context& ctx) { return run_backup(ctx, data, file); }; });

    auto* restore_cmd =
        app.add_subcommand("restore", "Replace the database with a backup (server stopped)");
    add_data(restore_cmd);
    restore_cmd->add_option("FILE", file, "Backup file to restore")->required();
    restore_cmd->callback(
        [&] { action = [&](Context& ctx) { return run_restore(ctx, data, file); }; });

    auto* check_cmd =
        app.add_subcommand("check", "Integrity check; projections rebuilt from the log must match");
    add_data(check_cmd);
    check_cmd->add_flag("--json", as_json, "Print one JSON document");
    check_cmd->callback(
        [&] { action = [&](Context& ctx) { return run_check(ctx, data, as_json); }; });

    CliHooks hooks;
    hooks.add_data = [&](CLI::App& cmd) { add_data(&cmd); };
    hooks.set_action = [&](DataAction added) {
        action = [&data, added](Context& ctx) { return added(data, ctx.out, ctx.err); };
    };
    for (const CliExtension& extend : extensions) {
        extend(app, hooks);
    }

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::Success& e) {
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        err << "caravan-server: " << e.what() << "\n";
        if (e.get_exit_code() != 0) {
            err << "Run with --help for usage.\n";
        }
        return e.get_exit_code() == 0 ? 0 : 2;
    }
    if (!action) {
        err << "caravan-server: nothing to do; run with --help\n";
        return 2;
    }
    Context ctx{out, err};
    Result<void> result;
    try {
        result = action(ctx);
    } catch (const std::exception& e) {
        result = fail(ErrorCode::internal, std::string("internal error: ") + e.what());
    }
    out.flush();
    if (!result) {
        err << "caravan-server: " << result.error().message << "\n";
        return cli_exit_code(result.error().code);
    }
    return 0;
}

} // namespace caravan::sync::server
