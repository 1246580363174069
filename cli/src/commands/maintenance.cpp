// caravan check | backup FILE | restore FILE | salvage NEW_FILE
#include <chrono>
#include <ctime>

#include "caravan/client/messages.hpp"
#include "caravan/client/salvage.hpp"
#include "common.hpp"
#include "messages.hpp"
#include "caravan/sync/agent/agent_state.hpp"

namespace caravan::cli {
namespace {

namespace fs = std::filesystem;

std::string timestamp() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
    return buf;
}

Result<void> report_damaged(Context& ctx, const std::vector<std::string>& problems) {
    if (ctx.json) {
        print_json(ctx, {{"ok", false},
                         {"integrity_problems", problems},
                         {"projections_match", nullptr},
                         {"events", nullptr}});
        ctx.json_printed = true;
    } else {
        // The problems are SQLite's own words (technical detail, as it reports them).
        ctx.out << phrase(ctx, msg::check_integrity_damaged) << "\n";
        for (const auto& p : problems) {
            ctx.out << "  " << p << "\n";
        }
        ctx.out << phrase(ctx, msg::check_projections_skipped) << "\n"
                << phrase(ctx, msg::check_damaged_advice) << "\n";
    }
    return fail(ErrorCode::corrupt, msg::database_damaged);
}

const bool check = register_command("check", [](CLI::App& app, Registry& registry) {
    auto* cmd = app.add_subcommand(
        "check", "Check the database file and verify the projections against the event log");
    cmd->callback([&registry] {
        registry.set([](Context& ctx) -> Result<void> {
            // The check reports damage itself, in full, instead of refusing to open.
            ctx.open_damaged = true;
            auto opened = ctx.engine();
            if (!opened) {
                if (opened.error().code != ErrorCode::corrupt) {
                    return tl::unexpected(opened.error());
                }
                return report_damaged(ctx, {client::localize(opened.error(), ctx.lang)});
            }
            client::Engine& engine = **opened;
            CARAVAN_TRY(report, engine.check(ctx.database_path().parent_path()));
            if (!report.integrity_problems.empty()) {
                return report_damaged(ctx, report.integrity_problems);
            }
            if (ctx.json) {
                print_json(ctx, {{"ok", report.ok()},
                                 {"integrity_problems", report.integrity_problems},
                                 {"projections_match", report.projections_match},
                                 {"events", report.events}});
            } else {
                ctx.out << phrase(ctx, msg::check_integrity_ok) << "\n"
                        << say(ctx,
                               report.projections_match ? msg::check_projections_ok
                                                        : msg::check_projections_differ,
                               {report.events})
                        << "\n";
            }
            if (!report.ok()) {
                return fail(ErrorCode::corrupt, msg::projections_differ);
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
            auto opened = ctx.engine();
            if (!opened) {
                // A copy of a damaged file is as damaged as the file: salvage reads what can
                // be read instead. Nothing is written.
                if (opened.error().code == ErrorCode::corrupt) {
                    return fail(ErrorCode::corrupt, msg::backup_damaged, opened.error());
                }
                return tl::unexpected(opened.error());
            }
            client::Engine& engine = **opened;
            CARAVAN_TRY(status, engine.status());
            if (auto ok = engine.backup(*target); !ok) {
                return ok;
            }
            if (ctx.json) {
                print_json(ctx, {{"backup", *target}, {"events", status.events}});
            } else {
                ctx.out << say(ctx, msg::backup_written, {*target, status.events}) << "\n";
            }
            return {};
        });
    });
});

// Moves a damaged database file (and its -wal, which belongs to it) aside under `aside`; the
// -shm index is rebuilt by SQLite and is only removed.
Result<void> move_damaged_aside(const fs::path& db, const fs::path& aside) {
    std::error_code ec;
    fs::rename(db, aside, ec);
    if (ec) {
        return fail(ErrorCode::io, msg::restore_cannot_move_aside, db.string(), ec.message());
    }
    if (fs::exists(db.string() + "-wal", ec)) {
        fs::rename(db.string() + "-wal", aside.string() + "-wal", ec);
    }
    fs::remove(db.string() + "-shm", ec);
    return {};
}

const bool restore = register_command("restore", [](CLI::App& app, Registry& registry) {
    auto source = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "restore", "Replace the database with a backup (the current one is kept aside first, "
                   "damaged or not)");
    cmd->add_option("file", *source, "Backup file made by `caravan backup` or `caravan salvage`")
        ->required();
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
            const fs::path db = ctx.database_path();
            auto opened = ctx.engine();
            if (!opened && opened.error().code == ErrorCode::corrupt) {
                // The current file is damaged: it cannot be copied, so it is moved aside whole
                // (never deleted) and the backup is copied into its place.
                fs::path aside = db;
                aside += ".damaged-" + timestamp();
                if (auto ok = move_damaged_aside(db, aside); !ok) {
                    return ok;
                }
                auto copied = [&]() -> Result<void> {
                    storage::OpenOptions options;
                    options.create = false;
                    options.read_only = true;
                    CARAVAN_TRY(backup, storage::Database::open(*source, options));
                    fs::path partial = db;
                    partial += ".restoring";
                    if (auto ok = backup.backup_to(partial); !ok) {
                        std::error_code ec;
                        fs::remove(partial, ec);
                        return ok;
                    }
                    std::error_code ec;
                    fs::rename(partial, db, ec);
                    if (ec) {
                        fs::remove(partial, ec);
                        return fail(ErrorCode::io, msg::restore_cannot_move_aside, db.string(),
                                    ec.message());
                    }
                    return {};
                }();
                if (!copied) {
                    // Put the damaged file back where it was: nothing changed.
                    std::error_code ec;
                    fs::rename(aside, db, ec);
                    if (fs::exists(aside.string() + "-wal", ec)) {
                        fs::rename(aside.string() + "-wal", db.string() + "-wal", ec);
                    }
                    return copied;
                }
                if (ctx.json) {
                    print_json(ctx, {{"restored", *source},
                                     {"previous_kept_as", aside.string()},
                                     {"previous_damaged", true}});
                } else {
                    ctx.out << say(ctx, msg::restored_damaged_kept, {*source, aside.string()})
                            << "\n";
                }
                return {};
            }
            if (!opened) {
                return tl::unexpected(opened.error());
            }
            client::Engine& engine = **opened;
            // Nothing is ever discarded: keep the current database beside it.
            auto aside = db;
            aside += ".before-restore-" + timestamp();
            if (auto ok = engine.backup(aside); !ok) {
                return ok;
            }
            if (auto ok = engine.restore_from(*source); !ok) {
                return ok;
            }
            if (ctx.json) {
                print_json(ctx, {{"restored", *source},
                                 {"previous_kept_as", aside.string()},
                                 {"previous_damaged", false}});
            } else {
                ctx.out << say(ctx, msg::restored_previous_kept, {*source, aside.string()})
                        << "\n";
            }
            return {};
        });
    });
});

const bool salvage = register_command("salvage", [](CLI::App& app, Registry& registry) {
    auto target = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand(
        "salvage", "Recover every readable event of a damaged database into a NEW file (the "
                   "damaged one is only read)");
    cmd->add_option("file", *target, "New database file to write (must not exist)")->required();
    cmd->callback([&registry, target] {
        registry.set([target](Context& ctx) -> Result<void> {
            const fs::path source = ctx.database_path();
            client::SalvageOptions options;
            // Pull the server's whole feed again: whatever this device lost of it comes back
            // (applying an event twice changes nothing).
            options.drop_settings.emplace_back(sync::agent::keys::pull_cursor);
            CARAVAN_TRY(report, client::salvage(source, *target, options));
            if (ctx.json) {
                auto doc = client::to_json(report);
                doc["salvaged_to"] = *target;
                doc["damaged_file"] = source.string();
                print_json(ctx, doc);
                return {};
            }
            ctx.out << say(ctx, msg::salvage_summary,
                           {*target, report.events_recovered, report.events_invalid,
                            report.events_lost})
                    << "\n";
            for (const auto& range : report.missing) {
                std::string seqs = std::to_string(range.from_seq);
                if (range.to_seq != range.from_seq) {
                    seqs += "-" + std::to_string(range.to_seq);
                }
                ctx.out << "  "
                        << say(ctx, msg::salvage_missing_range,
                               {client::short_id(range.device_id), seqs})
                        << "\n";
            }
            if (report.missing_unknown > 0) {
                ctx.out << "  " << say(ctx, msg::salvage_missing_unknown, {report.missing_unknown})
                        << "\n";
            }
            if (!report.schema_found) {
                ctx.out << "  " << phrase(ctx, msg::salvage_no_table_list) << "\n";
            }
            ctx.out << say(ctx,
                           report.identity_recovered ? msg::salvage_identity_kept
                                                     : msg::salvage_identity_lost,
                           {report.settings_recovered});
            if (!report.settings_complete) {
                ctx.out << " " << phrase(ctx, msg::salvage_settings_partial);
            }
            ctx.out << "\n";
            if (report.own_acked_missing > 0) {
                ctx.out << say(ctx, msg::salvage_acked_missing, {report.own_acked_missing})
                        << "\n";
            }
            ctx.out << say(ctx, msg::salvage_untouched, {source.string()}) << "\n"
                    << say(ctx, msg::salvage_next, {*target, *target}) << "\n";
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
