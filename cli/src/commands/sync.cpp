// `caravan sync` and `caravan sync log`.
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "caravan/client/messages.hpp"
#include "caravan/sync/agent/agent_state.hpp"
#include "caravan/sync/agent/device_sync.hpp"
#include "caravan/sync/agent/messages.hpp"
#include "caravan/sync/agent/schedule.hpp"
#include "caravan/sync/agent/sync_agent.hpp"
#include "caravan/sync/agent/sync_lock.hpp"
#include "common.hpp"
#include "messages.hpp"
#include "progress.hpp"

namespace caravan::cli {
namespace {

namespace agent = caravan::sync::agent;

std::string one_decimal(double value) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << value;
    return out.str();
}

std::string human_bytes(Context& ctx, std::int64_t n) {
    if (n < 1024) {
        return say(ctx, msg::size_bytes, {n});
    }
    if (n < 1024 * 1024) {
        return say(ctx, msg::size_kib, {one_decimal(static_cast<double>(n) / 1024)});
    }
    return say(ctx, msg::size_mib, {one_decimal(static_cast<double>(n) / (1024 * 1024))});
}

std::string human_duration(Context& ctx, std::int64_t ms) {
    return say(ctx, msg::duration_seconds, {one_decimal(static_cast<double>(ms) / 1000)});
}

struct SyncCliOptions {
    std::optional<std::string> until;
    bool verify = false;
    bool wait = false;
    // Diagnostic knobs (hidden from --help): tests and link experiments.
    std::optional<long> retry_base_ms, retry_cap_ms, connect_timeout_s, low_speed_time_s;
    std::optional<std::size_t> batch_bytes;
    std::optional<std::int64_t> page_size;
    std::optional<int> attempts;
};

void print_summary(Context& ctx, const agent::SyncReport& r) {
    const std::vector<MessageArg> counts = {
        r.pushed, r.pulled, r.rejected, r.requests, human_bytes(ctx, r.bytes_up),
        human_bytes(ctx, r.bytes_down), human_duration(ctx, r.duration_ms),
        r.ok() ? std::string() : std::string(to_string(r.error->code))};
    ctx.out << say(ctx, r.ok() ? msg::sync_summary_ok : msg::sync_summary_failed, counts);
    if (r.attempts > 1) {
        ctx.out << say(ctx, msg::sync_attempts, {r.attempts});
    }
    ctx.out << "\n";
    if (r.rotated_from) {
        ctx.out << say(ctx, msg::sync_rotated,
                       {client::short_id(r.device_id_after), client::short_id(*r.rotated_from),
                        r.reissued})
                << "\n";
    }
    if (r.rejected > 0) {
        ctx.out << say(ctx, msg::sync_rejected_note, {r.rejected}) << "\n";
    }
    if (r.verify) {
        const auto& v = *r.verify;
        ctx.out << say(ctx, msg::sync_verify,
                       {v.agree ? msg::word_agree : msg::word_disagree, v.upto, v.local_count,
                        v.server_count})
                << "\n";
    }
}

Result<void> run_sync(Context& ctx, const SyncCliOptions& o) {
    agent::SyncOptions options;
    agent::SyncTuning& t = options.tuning;
    if (o.retry_base_ms) {
        t.retry_base = agent::Millis(*o.retry_base_ms);
        t.round_base = agent::Millis(*o.retry_base_ms * 10);
    }
    if (o.retry_cap_ms) {
        t.retry_cap = agent::Millis(*o.retry_cap_ms);
        t.round_cap = agent::Millis(*o.retry_cap_ms * 10);
    }
    if (o.batch_bytes) {
        t.initial_batch_bytes = std::clamp(*o.batch_bytes, t.min_batch_bytes, t.max_batch_bytes);
        t.min_batch_bytes = std::min(t.min_batch_bytes, t.initial_batch_bytes);
    }
    if (o.page_size) {
        t.initial_page = std::clamp<std::int64_t>(*o.page_size, 1, t.max_page);
        t.min_page = std::min(t.min_page, t.initial_page);
    }
    if (o.attempts) {
        t.max_attempts = std::max(1, *o.attempts);
    }
    options.verify = o.verify;
    if (o.until) {
        CARAVAN_TRY(at, agent::parse_clock_time(*o.until));
        options.until = agent::retry_deadline(at, std::chrono::system_clock::now());
        if (!options.until) {
            // A nightly run that starts late (a laptop woken after its window) lands here too:
            // one attempt now, never a day of silent retrying.
            ctx.err << render(msg::until_passed.text(client::message_lang(ctx.lang)), {at.text()},
                              client::message_lang(ctx.lang))
                    << "\n";
        }
    }

    CARAVAN_TRY_ENGINE(engine, ctx);
    ProgressLine line(ctx.err, ctx.lang);
    agent::AgentEnvironment env;
    env.app_version = std::string("caravan/") + CARAVAN_VERSION;
    env.progress = [&line](const agent::Progress& p) {
        line.show(p.phase == "push" ? msg::progress_pushed : msg::progress_pulled, p.done, p.total);
    };
    auto ran = agent::sync_device(engine, ctx.database_path(), options, env, o.wait,
                                  agent::LinkTweaks{o.connect_timeout_s, o.low_speed_time_s});
    line.clear();
    CARAVAN_TRY(report, ran);

    if (ctx.json) {
        // One document whatever the outcome: a sync that fails part way still reports what it
        // moved (pushed, pulled, rejected, bytes, requests) next to the error.
        nlohmann::json out = agent::to_json(report);
        if (!report.ok()) {
            // As every --json error: `message` in the chosen language, `message_en` English.
            out["error"] = {{"code", to_string(report.error->code)},
                            {"message", client::localize(*report.error, ctx.lang)},
                            {"message_en", report.error->message}};
        }
        print_json(ctx, out);
        ctx.json_printed = true;
    } else {
        print_summary(ctx, report);
    }
    if (!report.ok()) {
        return tl::unexpected(*report.error);
    }
    return {};
}

Result<void> run_log(Context& ctx, std::int64_t limit) {
    CARAVAN_TRY_ENGINE(engine, ctx);
    if (auto ok = agent::AgentState::install(engine.component_storage()); !ok) {
        return ok;
    }
    agent::AgentState state(engine.component_storage());
    CARAVAN_TRY(entries, state.log(limit));
    if (ctx.json) {
        print_json_array(ctx, entries);
        return {};
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : entries) {
        // A failed run's result is its error code (offline, timeout, …), as stored.
        rows.push_back({e.started_at.substr(0, 19) + "Z",
                        e.result == "ok" ? std::string(phrase(ctx, msg::word_ok)) : e.result,
                        std::to_string(e.pushed), std::to_string(e.pulled),
                        std::to_string(e.rejected), human_bytes(ctx, e.bytes_up),
                        human_bytes(ctx, e.bytes_down), std::to_string(e.requests),
                        human_duration(ctx, e.duration_ms)});
    }
    std::vector<std::string> header;
    for (const Message* word : {&msg::log_started, &msg::log_result, &msg::log_pushed,
                                &msg::log_pulled, &msg::log_rejected, &msg::log_up,
                                &msg::log_down, &msg::log_requests, &msg::log_duration}) {
        header.emplace_back(phrase(ctx, *word));
    }
    print_table(ctx.out, header, rows);
    for (const auto& e : entries) {
        if (!e.message.empty()) {
            ctx.out << e.started_at.substr(0, 19) << "Z " << shown(e.result) << ": " << shown(e.message) << "\n";
            break; // the latest failure explains the most; the rest are in --json
        }
    }
    return {};
}

const bool registered = register_command("sync", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<SyncCliOptions>();
    auto* cmd = app.add_subcommand(
        "sync", "Push this device's changes to the server and pull everyone else's");
    cmd->add_option("--until", o->until,
                    "Keep retrying with backoff until this local time (HH:MM) if the link fails");
    cmd->add_flag("--verify", o->verify,
                  "After syncing, compare event count and digest with the server");
    cmd->add_flag("--wait", o->wait, "Wait for a sync already running instead of exiting (3)");
    const std::string hidden; // an empty group hides diagnostic knobs from --help
    cmd->add_option("--retry-base-ms", o->retry_base_ms)->group(hidden);
    cmd->add_option("--retry-cap-ms", o->retry_cap_ms)->group(hidden);
    cmd->add_option("--connect-timeout", o->connect_timeout_s)->group(hidden);
    cmd->add_option("--low-speed-time", o->low_speed_time_s)->group(hidden);
    cmd->add_option("--batch-bytes", o->batch_bytes)->group(hidden);
    cmd->add_option("--page-size", o->page_size)->group(hidden);
    cmd->add_option("--attempts", o->attempts)->group(hidden);

    auto limit = std::make_shared<std::int64_t>(20);
    auto* log = cmd->add_subcommand("log", "Past syncs: when, pushed, pulled, bytes, result");
    log->add_option("--limit", *limit, "How many runs to show (newest first)")
        ->check(CLI::PositiveNumber);
    log->callback([&registry, limit] {
        registry.set([limit](Context& ctx) { return run_log(ctx, *limit); });
    });
    cmd->callback([&registry, o, log] {
        if (log->parsed()) {
            return;
        }
        registry.set([o](Context& ctx) { return run_sync(ctx, *o); });
    });
});

} // namespace
} // namespace caravan::cli
