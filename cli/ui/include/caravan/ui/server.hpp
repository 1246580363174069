#pragma once
// The lawyer's app: `caravan ui` serves it on 127.0.0.1 and the browser shows it.
//
// Contract:
// - Listens on 127.0.0.1 only, on `port` (0: a free one). Every request passes the guard
//   (caravan/ui/guard.hpp): loopback Host, a session opened with the launch secret, and for a
//   state change the session's CSRF token from the app's own page.
// - Pages work with no network: the stylesheet, the script and the templates are in the binary.
// - A record is shown "saved" only after Engine returned it (the same durable commit as the CLI).
//   A busy database (the CLI or the nightly sync writing) is retried for `busy_retry_ms`; then
//   the form comes back with what was typed and says so. Nothing personal is logged.
// - The database is opened on first use: a missing file shows the first-run page, which creates
//   it. The CLI and the sync agent may use the same file at the same time (SQLite's locking).

#include <filesystem>
#include <memory>
#include <string>

#include "caravan/client/domain.hpp"
#include "caravan/storage/result.hpp"

namespace caravan::ui {

struct UiOptions {
    std::filesystem::path database;
    int port = 0;
    client::Lang lang = client::Lang::kk; // until the user picks one (a cookie remembers it)
    int busy_retry_ms = 15000;
    // Empty: a random launch secret (tests pass their own to know it).
    std::string secret;
};

class UiServer {
  public:
    // Binds 127.0.0.1:port and starts answering on a background thread; invalid_input when
    // the port is taken or out of range.
    [[nodiscard]] static Result<std::unique_ptr<UiServer>> start(UiOptions options);
    ~UiServer();
    UiServer(const UiServer&) = delete;
    UiServer& operator=(const UiServer&) = delete;

    [[nodiscard]] int port() const;
    // http://127.0.0.1:PORT/?k=SECRET — the one link that opens a session.
    [[nodiscard]] std::string launch_url() const;
    // True while a sync or an enrollment started from the app is under way.
    [[nodiscard]] bool job_running() const;
    // Blocks until stop() (from another thread or a signal handler's thread).
    void wait();
    void stop();

    struct Impl;

  private:
    explicit UiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace caravan::ui
