#pragma once
// The `caravan` command line: argument parsing (CLI11) and printing only. Every rule about
// records lives in client/.
//
// A command is a file under commands/ that registers a setup function at static-init time:
//
//   static const bool registered = caravan::cli::register_command(
//       "village", [](CLI::App& app, caravan::cli::Registry& registry) { ... });
//
// The setup function adds its subcommand(s) to `app` and, in each subcommand's callback, hands
// the registry the action to run once parsing succeeded. Actions print to ctx.out (exactly one
// JSON document when ctx.json) and return an Error for anything that went wrong.

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json_fwd.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"

namespace caravan::cli {

struct Context {
    Context(std::ostream& o, std::ostream& e) : out(o), err(e) {}
    std::ostream& out;
    std::ostream& err;
    bool json = false;
    client::Lang lang = client::Lang::en;
    std::optional<std::string> db_path; // --db; CARAVAN_DB / default otherwise
    // Set by an action that printed its own --json document before failing (e.g. an import
    // report listing bad rows): run() then reports the error on stderr only.
    bool json_printed = false;
    // Only `init` creates the database file; every other command finds a missing file
    // "not initialised" and leaves nothing behind.
    bool may_create = false;
    // Open without the quick integrity check (`check` reports the damage itself).
    bool open_damaged = false;

    // Opens the device database on first use.
    [[nodiscard]] Result<client::Engine*> engine();
    [[nodiscard]] std::filesystem::path database_path() const;

  private:
    std::unique_ptr<client::Engine> m_engine;
};

using Action = std::function<Result<void>(Context&)>;

class Registry {
  public:
    void set(Action action) { m_action = std::move(action); }
    [[nodiscard]] const Action& action() const { return m_action; }

  private:
    Action m_action;
};

using Setup = std::function<void(CLI::App&, Registry&)>;

// Returns true so it can initialise a static.
bool register_command(std::string name, Setup setup);

// Runs `caravan` with `args` (without the program name). Returns the exit code:
// 0 ok; 1 failure; 2 bad usage or input; 3 database busy; 4 offline or timed out;
// 5 authentication refused; 6 server or protocol fault; 7 upgrade required.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

[[nodiscard]] int exit_code(ErrorCode code);

} // namespace caravan::cli
