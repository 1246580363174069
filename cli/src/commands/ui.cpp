// caravan ui [--port N] [--no-browser]: the lawyer's app in the browser (cli/ui).
#include <csignal>
#include <cstdlib>
#include <spawn.h>
#include <sys/wait.h>

#include "caravan/ui/server.hpp"
#include "common.hpp"
#include "caravan/client/messages.hpp"
#include "messages.hpp"

extern char** environ;

namespace caravan::cli {
namespace {

// Opens `url` in the desktop's browser ($BROWSER, else xdg-open) without waiting for it. The
// URL carries the launch secret: it goes to the child's argv only, never to a shell.
bool open_browser(const std::string& url) {
    const char* browser = std::getenv("BROWSER");
    const std::string program = browser && *browser ? browser : "xdg-open";
    std::vector<char*> argv{const_cast<char*>(program.c_str()), const_cast<char*>(url.c_str()),
                            nullptr};
    pid_t pid = 0;
    return posix_spawnp(&pid, program.c_str(), nullptr, nullptr, argv.data(), environ) == 0;
}

const bool registered = register_command("ui", [](CLI::App& app, Registry& registry) {
    struct Options {
        int port = 0;
        bool no_browser = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("ui", "The app in the browser, on this computer only");
    cmd->add_option("--port", o->port, "Port on 127.0.0.1 (default: a free one)");
    cmd->add_flag("--no-browser", o->no_browser, "Print the link only; do not open a browser");
    cmd->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            // SIGINT/SIGTERM are taken by sigwait below: blocked before the server's threads
            // start, so that they inherit the mask and only this thread receives them.
            sigset_t stop_signals;
            sigemptyset(&stop_signals);
            sigaddset(&stop_signals, SIGINT);
            sigaddset(&stop_signals, SIGTERM);
            pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
            ui::UiOptions options;
            options.database = ctx.database_path();
            options.port = o->port;
            options.lang = ctx.lang;
            CARAVAN_TRY(server, ui::UiServer::start(options));
            const std::string url = server->launch_url();
            const auto lang = client::message_lang(ctx.lang);
            ctx.out << caravan::render(msg::ui_listening.text(lang), {url}, lang) << "\n"
                    << msg::ui_stop_hint.text(lang) << std::endl;
            if (!o->no_browser && !open_browser(url)) {
                ctx.err << msg::ui_no_browser.text(lang) << std::endl;
            }
            int received = 0;
            sigwait(&stop_signals, &received);
            server->stop();
            if (server->job_running()) {
                // A sync has no way to be stopped half way and may be retrying for minutes: end
                // the process now, as a power cut would. Every batch it completed is committed;
                // the next sync resumes after the last one (docs/sync-algorithm.md).
                ctx.out << msg::ui_sync_cut.text(lang) << std::endl;
                std::_Exit(0);
            }
            return {};
        });
    });
});

} // namespace
} // namespace caravan::cli
