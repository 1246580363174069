#include "app.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

#include "caravan/client/hlc.hpp"
#include "output.hpp"

namespace caravan::cli {

namespace {

std::map<std::string, Setup>& commands() {
    static std::map<std::string, Setup> all; // sorted: stable help output
    return all;
}

// CLI11 lists every unexpected argument, and after a mistyped option name that includes the
// free text meant for it (a consultation's question). Name only the option-like ones.
std::string parse_error_message(const CLI::App& app, const CLI::ParseError& e) {
    if (!dynamic_cast<const CLI::ExtrasError*>(&e)) {
        return e.what();
    }
    std::string named;
    size_t hidden = 0;
    const CLI::App* level = &app;
    for (int depth = 0; level && depth < 8; ++depth) {
        for (const std::string& arg : level->remaining()) {
            if (arg.size() > 1 && arg.front() == '-') {
                named += " " + arg;
            } else {
                ++hidden;
            }
        }
        auto selected = level->get_subcommands();
        level = selected.empty() ? nullptr : selected.front();
    }
    std::string message =
        "unexpected arguments:" + (named.empty() ? std::string(" none named") : named);
    if (hidden > 0) {
        message +=
            " (and " + std::to_string(hidden) + " value" + (hidden > 1 ? "s" : "") + ", not shown)";
    }
    return message;
}

} // namespace

bool register_command(std::string name, Setup setup) {
    commands().emplace(std::move(name), std::move(setup));
    return true;
}

std::filesystem::path Context::database_path() const {
    return db_path ? std::filesystem::path(*db_path) : client::default_database_path();
}

Result<client::Engine*> Context::engine() {
    if (!m_engine) {
        client::EngineOptions options;
        if (const char* timeout = std::getenv("CARAVAN_BUSY_TIMEOUT_MS")) {
            options.busy_timeout_ms = std::max(0, std::atoi(timeout));
        }
        // Diagnostic knob for clock-skew tests: shifts this process's physical clock.
        if (const char* skew = std::getenv("CARAVAN_CLOCK_SKEW_MS")) {
            long long offset = std::atoll(skew);
            options.clock = [offset] { return client::system_now_ms() + offset; };
        }
        auto engine = client::Engine::open(database_path(), std::move(options));
        if (!engine) {
            return tl::unexpected(engine.error());
        }
        m_engine = std::make_unique<client::Engine>(std::move(*engine));
    }
    return m_engine.get();
}

int exit_code(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_input:
    case ErrorCode::not_found:
    case ErrorCode::ambiguous:
    case ErrorCode::conflict:
    case ErrorCode::not_initialized: return 2;
    case ErrorCode::busy: return 3;
    case ErrorCode::offline:
    case ErrorCode::timeout: return 4;
    case ErrorCode::auth:
    case ErrorCode::forbidden: return 5;
    case ErrorCode::server:
    case ErrorCode::protocol: return 6;
    case ErrorCode::upgrade_required: return 7;
    case ErrorCode::corrupt:
    case ErrorCode::storage_full:
    case ErrorCode::io:
    case ErrorCode::internal: return 1;
    }
    return 1;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    CLI::App app{"caravan: offline record-keeping for mobile legal-aid caravans", "caravan"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("caravan ") + CARAVAN_VERSION);
    std::optional<std::string> db_path;
    bool json = false;
    std::string lang_text = "en";
    app.add_option("--db", db_path, "Device database file (default: $CARAVAN_DB, else "
                                    "$XDG_DATA_HOME/caravan/caravan.db)");
    app.add_flag("--json", json, "Print exactly one JSON document on stdout");
    app.add_option("--lang", lang_text, "Language of labels and messages: kk, ru or en")
        ->check(CLI::IsMember({"kk", "ru", "en"}));
    // Global options may follow the subcommand (`caravan consult list --json`); a subcommand's
    // own option of the same name (`consult add --lang kk`) takes precedence.
    app.fallthrough(true);

    Registry registry;
    for (auto& [name, setup] : commands()) {
        setup(app, registry);
    }

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::Success& e) {
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        const std::string message = parse_error_message(app, e);
        if (json) {
            out << nlohmann::json{{"error", {{"code", "invalid_input"}, {"message", message}}}}
                       .dump()
                << "\n";
        }
        err << "caravan: " << message << "\n";
        if (e.get_exit_code() != 0) {
            err << "Run with --help for usage.\n";
        }
        return e.get_exit_code() == 0 ? 0 : 2;
    }

    Context ctx{out, err};
    ctx.json = json;
    ctx.lang = client::parse_lang(lang_text).value_or(client::Lang::en);
    ctx.db_path = db_path;
    if (!registry.action()) {
        err << "caravan: nothing to do; run with --help\n";
        return 2;
    }
    Result<void> result;
    try {
        result = registry.action()(ctx);
    } catch (const std::exception& e) {
        // A bug: say so plainly, without the data that triggered it.
        result = fail(ErrorCode::internal, std::string("internal error: ") + e.what());
    }
    if (!result) {
        if (json && !ctx.json_printed) {
            out << nlohmann::json{{"error",
                                   {{"code", to_string(result.error().code)},
                                    {"message", result.error().message}}}}
                       .dump()
                << "\n";
        }
        err << "caravan: " << result.error().message << "\n";
        return exit_code(result.error().code);
    }
    out.flush();
    return 0;
}

} // namespace caravan::cli
