#include "app.hpp"

#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>

#include "caravan/sync/server/cli.hpp"
#include "caravan/sync/server/data_dir.hpp"

namespace caravan::sync::server {

namespace {

// The order of the commands in --help.
constexpr std::string_view k_command_order[] = {
    "serve",  "enroll-code", "devices", "conflicts", "backup",        "restore",
    "check",  "user",        "export",  "report",    "migrate-store"};

std::size_t rank(const std::string& name) {
    auto at = std::find(std::begin(k_command_order), std::end(k_command_order), name);
    return static_cast<std::size_t>(at - std::begin(k_command_order));
}

std::map<std::string, Setup>& commands() {
    static std::map<std::string, Setup> all;
    return all;
}

} // namespace

bool register_command(std::string name, Setup setup) {
    commands().emplace(std::move(name), std::move(setup));
    return true;
}

void Registry::add_data(CLI::App& command) {
    command.add_option("--data", m_data, "Server data directory (holds server.db)")->required();
}

void Registry::add_store(CLI::App& command) {
    command
        .add_option("--store", m_store,
                    "postgresql://... URL of a PostgreSQL store (--data then holds only this"
                    " process's projection cache)")
        ->check([](const std::string& value) {
            return pg::is_url(value) ? std::string()
                                     : std::string("--store takes a postgresql:// URL (the"
                                                   " embedded store is --data DIR)");
        });
}

Result<std::unique_ptr<Store>> open_store(const Context& ctx, StoreOptions options) {
    if (ctx.store.empty()) {
        return Store::open(database_path(ctx.data), options);
    }
    options.cache_dir = ctx.data / "pg-cache";
    return Store::open_postgresql(std::make_shared<pg::Pool>(ctx.store, 2), options);
}

Result<std::unique_ptr<Store>> open_existing(const Context& ctx) {
    StoreOptions o;
    o.create = false;
    o.integrity_check = false;
    o.migrate = !ctx.store.empty(); // a PostgreSQL store is installed on first use
    return open_store(ctx, o);
}

std::string optional_time(const std::optional<std::int64_t>& ms) {
    return ms ? iso_utc(*ms) : "-";
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
            FrontEnd front_end) {
    CLI::App app{"caravan-server: the central sync server of Caravan", "caravan-server"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("caravan-server ") + CARAVAN_VERSION);

    std::vector<std::pair<std::string, const Setup*>> ordered;
    for (const auto& [name, setup] : commands()) {
        ordered.emplace_back(name, &setup);
    }
    std::stable_sort(ordered.begin(), ordered.end(),
                     [](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
    Registry registry;
    for (const auto& [name, setup] : ordered) {
        (*setup)(app, registry);
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
    const Action& action = registry.action();
    if (!action) {
        err << "caravan-server: nothing to do; run with --help\n";
        return 2;
    }
    Context ctx{out, err, registry.data(), registry.store(), std::move(front_end)};
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
