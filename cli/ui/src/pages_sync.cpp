// Sync and enrollment from the app: a button with live progress, the last result, what is not
// on the server yet and since when, the nightly schedule's state; the first connection with a
// one-time code. Each runs on a thread of its own with an engine of its own (the same file, as
// the nightly sync is another process), so the forms keep working while it runs.
#include <atomic>
#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/sync/agent/curl_transport.hpp"
#include "caravan/sync/agent/device_sync.hpp"
#include "caravan/sync/agent/schedule.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {

namespace agent = caravan::sync::agent;

// The one background job (a sync or an enrollment) and what it last said. Thread-safe.
struct Jobs::State {
    std::mutex mutex;
    bool running = false;
    std::string kind;  // "sync" | "enroll"
    std::string phase; // "push" | "pull"
    std::int64_t done = 0, total = 0;
    std::optional<Error> last_error; // of the last job: shown once on the page
    std::string last_notice_arg;
    std::thread thread;
};

Jobs::Jobs() : m_state(std::make_unique<State>()) {}

Jobs::~Jobs() {
    if (m_state->thread.joinable()) {
        m_state->thread.join();
    }
}

bool Jobs::start(std::string kind, std::function<Result<std::string>(Jobs&)> work) {
    const std::lock_guard lock(m_state->mutex);
    if (m_state->running) {
        return false;
    }
    if (m_state->thread.joinable()) {
        m_state->thread.join();
    }
    m_state->running = true;
    m_state->kind = std::move(kind);
    m_state->phase.clear();
    m_state->done = m_state->total = 0;
    m_state->last_error.reset();
    m_state->thread = std::thread([this, work = std::move(work)] {
        auto result = work(*this);
        const std::lock_guard done_lock(m_state->mutex);
        if (!result) {
            m_state->last_error = result.error();
        } else {
            m_state->last_notice_arg = *result;
        }
        m_state->running = false;
    });
    return true;
}

void Jobs::progress(std::string_view phase, std::int64_t done, std::int64_t total) {
    const std::lock_guard lock(m_state->mutex);
    m_state->phase = std::string(phase);
    m_state->done = done;
    m_state->total = total;
}

Jobs::Snapshot Jobs::snapshot() const {
    const std::lock_guard lock(m_state->mutex);
    return Snapshot{m_state->running, m_state->kind,  m_state->phase,
                    m_state->done,    m_state->total, m_state->last_error,
                    m_state->last_notice_arg};
}

namespace {

// An engine of the job's own on the app's database.
Result<client::Engine> job_engine(const std::filesystem::path& path) {
    client::EngineOptions options;
    options.create = false;
    options.integrity_check = false;
    return client::Engine::open(path, options);
}

std::string progress_text(const Page& page, const Jobs::Snapshot& s) {
    const std::string phase = s.phase == "pull" ? tr(page, msg::sync_phase_pull)
                                                : tr(page, msg::sync_phase_push);
    std::string count = s.phase.empty() ? std::string{} : std::to_string(s.done);
    if (s.total > 0) {
        count += " / " + std::to_string(s.total);
    }
    return tr(page, msg::sync_running, {phase, count});
}

Answer sync_page(const Page& page, const std::string& notice, const std::string& error) {
    mstch::map ctx{{"notice", notice}, {"error", error}};
    const Jobs::Snapshot job = page.jobs.snapshot();
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        CARAVAN_TRY(st, engine.status());
        ctx.emplace("unsynced", st.unsynced == 0
                                    ? tr(page, msg::unsynced_none)
                                    : tr(page, msg::unsynced_some,
                                         {st.unsynced, local_time(st.oldest_unsynced.value_or(""))}));
        CARAVAN_TRY(overview, agent::sync_overview(engine));
        if (overview.enrollment) {
            std::string regions;
            for (const auto& r : overview.enrollment->regions) {
                regions += (regions.empty() ? "" : ", ") + r;
            }
            // The role as the server gave it; an unknown one (a newer server) as it came.
            const std::string& role = overview.enrollment->role;
            const std::string role_label = role == "lawyer"        ? tr(page, msg::role_lawyer)
                                           : role == "coordinator" ? tr(page, msg::role_coordinator)
                                                                   : role;
            ctx.emplace("server", tr(page, msg::server_line,
                                     {overview.enrollment->server_url, role_label, regions}));
        }
        if (!overview.last) {
            ctx.emplace("last", tr(page, msg::last_sync_never));
        } else if (overview.last->result == "ok") {
            ctx.emplace("last", tr(page, msg::last_sync_ok,
                                   {local_time(overview.last->started_at), overview.last->pushed,
                                    overview.last->pulled}));
        } else {
            ctx.emplace("last", tr(page, msg::last_sync_failed,
                                   {local_time(overview.last->started_at), overview.last->result}));
            if (overview.last_ok) {
                ctx.emplace("last_ok", tr(page, msg::last_ok_at, {local_time(overview.last_ok->started_at)}));
            }
        }
        if (overview.quarantined > 0) {
            ctx.emplace("quarantined", tr(page, msg::quarantined_some, {overview.quarantined}));
        }
        ctx.emplace("enrolled", overview.enrollment.has_value());
        return {};
    });
    if (!done) {
        ctx["error"] = error_text(page, done.error());
    }
    // The nightly schedule, as `caravan schedule status` reads it.
    if (auto scheduler = agent::detect_scheduler()) {
        if (auto st = agent::schedule_status(*scheduler, std::filesystem::absolute(page.engine.path()).lexically_normal());
            st && st->installed) {
            ctx.emplace("schedule", tr(page, msg::schedule_on, {st->at.value_or("?"), st->scheduler}));
        }
    }
    if (!ctx.count("schedule")) {
        ctx.emplace("schedule", tr(page, msg::schedule_off));
    }
    if (job.last_error && error.empty()) {
        ctx["error"] = error_text(page, *job.last_error);
    }
    ctx.emplace("running", job.running);
    ctx.emplace("progress", job.running ? progress_text(page, job) : std::string{});
    ctx.emplace("sync_now", tr(page, msg::sync_now));
    ctx.emplace("not_enrolled", tr(page, msg::not_enrolled_yet));
    ctx.emplace("enroll_title", tr(page, msg::enroll_title));
    ctx.emplace("enroll_intro", tr(page, msg::enroll_intro));
    ctx.emplace("server_label", tr(page, msg::enroll_server));
    ctx.emplace("code_label", tr(page, msg::enroll_code));
    ctx.emplace("insecure_label", tr(page, msg::enroll_insecure));
    ctx.emplace("enroll_submit", tr(page, msg::enroll_submit));
    ctx.emplace("server_value", page.form.get("server"));
    Answer answer = render_page(page, "sync", tr(page, msg::sync_title), std::move(ctx));
    if (!error.empty()) {
        answer.status = 400;
    }
    return answer;
}

Answer get_sync(const Page& page) {
    const Jobs::Snapshot job = page.jobs.snapshot();
    std::string notice;
    if (!job.running && job.kind == "enroll" && !job.last_error && !job.last_notice_arg.empty()) {
        notice = tr(page, msg::enrolled, {job.last_notice_arg});
    }
    return sync_page(page, notice, {});
}

// The job's state for the page's script, polled while a job runs.
Answer get_sync_progress(const Page& page) {
    const Jobs::Snapshot s = page.jobs.snapshot();
    Answer answer;
    answer.content_type = "application/json";
    answer.body = nlohmann::json{{"running", s.running},
                                 {"text", s.running ? progress_text(page, s) : std::string{}},
                                 {"done", s.done},
                                 {"total", s.total}}
                      .dump();
    return answer;
}

Answer post_sync(const Page& page) {
    const std::filesystem::path path = page.engine.path();
    const bool started = page.jobs.start("sync", [path](Jobs& jobs) -> Result<std::string> {
        CARAVAN_TRY(engine, job_engine(path));
        agent::AgentEnvironment env;
        env.app_version = "caravan-ui/0";
        env.progress = [&jobs](const agent::Progress& p) { jobs.progress(p.phase, p.done, p.total); };
        CARAVAN_TRY(report, agent::sync_device(engine, path, agent::SyncOptions{}, env));
        if (!report.ok()) {
            return tl::unexpected(*report.error);
        }
        return std::string{};
    });
    if (!started) {
        return sync_page(page, {}, tr(page, msg::job_busy));
    }
    return redirect("/sync");
}

Answer post_enroll(const Page& page) {
    const std::filesystem::path path = page.engine.path();
    agent::DeviceEnrollRequest request{page.form.get("server"), page.form.get("code"),
                                       std::nullopt, page.form.has("insecure_http")};
    // The request's own mistakes (an address, a code) are said at once, not from the job.
    if (auto url = agent::normalize_server_url(request.server); !url) {
        return sync_page(page, {}, error_text(page, url.error()));
    }
    if (auto code = agent::normalize_enroll_code(request.code); !code) {
        return sync_page(page, {}, error_text(page, code.error()));
    }
    const bool started = page.jobs.start("enroll", [path, request](Jobs&) -> Result<std::string> {
        CARAVAN_TRY(engine, job_engine(path));
        agent::AgentEnvironment env;
        env.app_version = "caravan-ui/0";
        CARAVAN_TRY(result, agent::enroll_device(engine, path, request, env));
        (void)result;
        return agent::normalize_server_url(request.server);
    });
    if (!started) {
        return sync_page(page, {}, tr(page, msg::job_busy));
    }
    return redirect("/sync");
}

} // namespace

void add_sync_routes(Routes& routes) {
    routes.get.emplace("/sync", get_sync);
    routes.get.emplace("/sync/progress", get_sync_progress);
    routes.post.emplace("/sync", post_sync);
    routes.post.emplace("/enroll", post_enroll);
}

} // namespace caravan::ui
