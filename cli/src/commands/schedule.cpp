// `caravan schedule install|status|remove`: the nightly background sync.
#include "caravan/sync/agent/schedule.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "common.hpp"
#include "messages.hpp"

namespace caravan::cli {
namespace {

namespace agent = caravan::sync::agent;
namespace fs = std::filesystem;

struct InstallOptions {
    std::string at = "02:00";
    int window_hours = 4;
};

// The absolute path that names the database's schedule.
Result<fs::path> schedule_database(Context& ctx) {
    std::error_code ec;
    fs::path db = fs::absolute(ctx.database_path(), ec);
    if (ec) {
        return fail(ErrorCode::io, msg::database_path_unresolved);
    }
    return db.lexically_normal();
}

Result<void> run_install(Context& ctx, const InstallOptions& o) {
    CARAVAN_TRY(at, agent::parse_clock_time(o.at));
    // The database must exist and be ours before a timer starts using it every night.
    CARAVAN_TRY_ENGINE(engine, ctx);
    CARAVAN_TRY(device, engine.device());
    (void)device;
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) {
        return fail(ErrorCode::io, msg::own_path_unknown);
    }
    CARAVAN_TRY(db, schedule_database(ctx));
    agent::ScheduleSpec spec{at, o.window_hours * 60, self, db};
    CARAVAN_TRY(scheduler, agent::detect_scheduler());
    CARAVAN_TRY(summary, agent::install_schedule(scheduler, spec));
    if (ctx.json) {
        print_json(ctx, {{"installed", true},
                         {"scheduler", scheduler.name()},
                         {"at", at.text()},
                         {"summary", summary}});
    } else {
        ctx.out << "installed " << summary << "\n";
    }
    return {};
}

Result<void> run_status(Context& ctx) {
    CARAVAN_TRY(scheduler, agent::detect_scheduler());
    CARAVAN_TRY(db, schedule_database(ctx));
    CARAVAN_TRY(st, agent::schedule_status(scheduler, db));
    // The last run, when the database is there: the first thing to look at when in doubt.
    std::optional<agent::SyncLogEntry> last;
    if (fs::exists(ctx.database_path())) {
        CARAVAN_TRY_ENGINE(engine, ctx);
        if (auto ok = agent::AgentState::install(engine.component_storage()); !ok) {
            return ok;
        }
        agent::AgentState state(engine.component_storage());
        CARAVAN_TRY(entries, state.log(1));
        if (!entries.empty()) {
            last = entries.front();
        }
    }
    if (ctx.json) {
        nlohmann::json j = {
            {"installed", st.installed},
            {"scheduler", st.scheduler},
            {"name", st.name},
            {"at", st.at ? nlohmann::json(*st.at) : nlohmann::json()},
            {"command", st.command ? nlohmann::json(*st.command) : nlohmann::json()},
            {"next_run", st.next_run ? nlohmann::json(*st.next_run) : nlohmann::json()},
            {"files", st.files},
            {"last_sync", last ? agent::to_json(*last) : nlohmann::json()}};
        print_json(ctx, j);
        return {};
    }
    ctx.out << "scheduler: " << st.scheduler << "\n";
    ctx.out << "schedule: " << st.name << "\n";
    if (!st.installed) {
        ctx.out << "nightly sync: not installed (`caravan schedule install --at 02:00`)\n";
    } else {
        ctx.out << "nightly sync: daily at " << st.at.value_or("?") << "\n";
        if (st.command) {
            ctx.out << "runs: " << *st.command << "\n";
        }
        if (st.next_run) {
            ctx.out << "next run: " << *st.next_run << "\n";
        }
        for (const auto& f : st.files) {
            ctx.out << "  " << f << "\n";
        }
    }
    if (last) {
        ctx.out << "last sync: " << last->started_at << " " << last->result << " (pushed "
                << last->pushed << ", pulled " << last->pulled << ", rejected " << last->rejected
                << ")\n";
    } else {
        ctx.out << "last sync: never\n";
    }
    return {};
}

Result<void> run_remove(Context& ctx) {
    CARAVAN_TRY(scheduler, agent::detect_scheduler());
    CARAVAN_TRY(db, schedule_database(ctx));
    CARAVAN_TRY(removed, agent::remove_schedule(scheduler, db));
    if (ctx.json) {
        print_json(ctx, {{"removed", removed}, {"scheduler", scheduler.name()}});
    } else {
        ctx.out << (removed ? "removed the nightly sync (" : "no nightly sync was installed (")
                << scheduler.name() << ")\n";
    }
    return {};
}

const bool registered = register_command("schedule", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("schedule", "The nightly background sync (systemd or cron)");
    group->require_subcommand(1);

    auto o = std::make_shared<InstallOptions>();
    auto* install = group->add_subcommand(
        "install", "Sync every night at a set time, retrying for a few hours when offline");
    install->add_option("--at", o->at, "Local time of day, HH:MM (default 02:00)");
    install
        ->add_option("--window-hours", o->window_hours,
                     "Keep retrying this many hours after the start (1 to 12, default 4)")
        // `sync --until` reads a time more than 12 h ahead as already passed.
        ->check(CLI::Range(1, 12));
    install->callback(
        [&registry, o] { registry.set([o](Context& ctx) { return run_install(ctx, *o); }); });

    auto* status = group->add_subcommand("status", "Whether the nightly sync is installed, and "
                                                   "how the last sync went");
    status->callback([&registry] { registry.set([](Context& ctx) { return run_status(ctx); }); });

    auto* remove = group->add_subcommand("remove", "Remove the nightly sync");
    remove->callback([&registry] { registry.set([](Context& ctx) { return run_remove(ctx); }); });
});

} // namespace
} // namespace caravan::cli
