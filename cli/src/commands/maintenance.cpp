// caravan check | backup FILE | restore FILE
#include <chrono>
#include <ctime>

#include "common.hpp"
#include "messages.hpp"

namespace caravan::cli {
namespace {

std::string timestamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

const bool check = register_command("check", [](CLI::App& app, Registry& registry) {
    auto* cmd = app.add_subcommand(
        "check", "Check the database file and verify the projections against the event log");
    cmd->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(report, engine.check(ctx.database_path().parent_path()));
            if (ctx.json) {
                print_json(ctx, {{"ok", report.ok()},
                                 {"integrity_problems", report.integrity_problems},
                                 {"projections_match", report.projections_match},
                                 {"events", report.events}});
            } else {
                ctx.out << "file integrity: "
                        << (report.integrity_problems.empty() ? "ok" : "DAMAGED") << "\n";
                for (const auto& p : report.integrity_problems) {
                    ctx.out << "  " << p << "\n";
                }
                ctx.out << "projections vs event log (" << report.events << " events): "
                        << (report.projections_match ? "ok" : "DIFFER") << "\n";
            }
            if (!report.ok()) {
                return fail(ErrorCode::corrupt, report.integrity_problems.empty()
                                                    ? msg::projections_differ
                                                    : msg::database_damaged);
            }
            return {};
        });
    });
});

const bool backup = register_command("backup", [](CLI::App& app, Registry& registry) {
    auto target = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("backup", "Copy the database consistently, even while in use");
    cmd->add_option("file", *target, "Backup file to write")->required();
    cmd->callback([&registry, target] {
        registry.set([target](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(status, engine.status());
            if (auto ok = engine.backup(*target); !ok) {
                return ok;
            }
            if (ctx.json) {
                print_json(ctx, {{"backup", *target}, {"events", status.events}});
            } else {
                ctx.out << "backup written: " << *target << " (" << status.events
                        << " events)\n";
            }
            return {};
        });
    });
});

const bool restore = register_command("restore", [](CLI::App& app, Registry& registry) {
    auto source = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "restore", "Replace the database with a backup (the current one is kept aside first)");
    cmd->add_option("file", *source, "Backup file made by `caravan backup`")->required();
    cmd->callback([&registry, source] {
        registry.set([source](Context& ctx) -> Result<void> {
            // The backup must itself be a sound Caravan database.
            {
                storage::OpenOptions options;
                options.create = false;
                options.read_only = true;
                options.application_id = client::k_device_application_id;
                auto probe = storage::Database::open(*source, options);
                if (!probe) {
                    return fail(probe.error().code == ErrorCode::not_found
                                    ? ErrorCode::not_found
                                    : ErrorCode::invalid_input,
                                msg::restore_refused, probe.error());
                }
            }
            CARAVAN_TRY_ENGINE(engine, ctx);
            // Nothing is ever discarded: keep the current database beside it.
            auto aside = ctx.database_path();
            aside += ".before-restore-" + timestamp();
            if (auto ok = engine.backup(aside); !ok) {
                return ok;
            }
            if (auto ok = engine.database().restore_from(*source); !ok) {
                return ok;
            }
            if (ctx.json) {
                print_json(ctx, {{"restored", *source}, {"previous_kept_as", aside.string()}});
            } else {
                ctx.out << "restored from " << *source << "; the previous database is kept as "
                        << aside.string() << "\n";
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
