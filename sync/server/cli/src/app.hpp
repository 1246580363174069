#pragma once
// The `caravan-server` command line, one file per command under commands/, as `caravan`'s
// (cli/src/app.hpp). A command registers a setup function at static-init time:
//
//   const bool registered = register_command("backup", [](CLI::App& app, Registry& registry) {
//       ...
//   });
//
// The setup function adds its subcommand(s) to `app` (and --data through the registry) and, in
// its callback, hands the registry the action to run once parsing succeeded. Actions print to
// ctx.out, diagnostics to ctx.err, and return an Error for anything that went wrong.

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "caravan/storage/result.hpp"
#include "caravan/sync/server/server.hpp"
#include "caravan/sync/server/store.hpp"

namespace caravan::sync::server {

struct Context {
    std::ostream& out;
    std::ostream& err;
    std::filesystem::path data; // --data
    std::string store;          // --store: a postgresql:// URL, or "" for the embedded store
    FrontEnd front_end;         // what `serve` mounts beside the API (run_cli's caller)
};

using Action = std::function<Result<void>(Context&)>;

class Registry {
  public:
    // Adds the required `--data DIR` to `command`.
    void add_data(CLI::App& command);
    // Adds `--store URL` (the PostgreSQL store) to `command`; --data then holds the process's
    // projection cache.
    void add_store(CLI::App& command);
    // The value --data is read into, for a command that checks it itself.
    [[nodiscard]] std::string& data() { return m_data; }
    [[nodiscard]] const std::string& store() const { return m_store; }

    void set(Action action) { m_action = std::move(action); }
    [[nodiscard]] const Action& action() const { return m_action; }

  private:
    std::string m_data;
    std::string m_store;
    Action m_action;
};

using Setup = std::function<void(CLI::App&, Registry&)>;

// Returns true so it can initialise a static. Commands appear in --help in the order of
// k_command_order (src/app.cpp).
bool register_command(std::string name, Setup setup);

// ---- shared by the commands ----------------------------------------------------------------

// Opens the store the command names: PostgreSQL when --store was given (its projection cache
// in --data), else the embedded store of --data.
[[nodiscard]] Result<std::unique_ptr<Store>> open_store(const Context& ctx, StoreOptions options);
// Opens the existing store (no integrity check: `check` reports damage).
[[nodiscard]] Result<std::unique_ptr<Store>> open_existing(const Context& ctx);
// An ISO time, or "-".
[[nodiscard]] std::string optional_time(const std::optional<std::int64_t>& ms);
// Columns padded to their widest cell (counted in code points), two spaces apart.
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

} // namespace caravan::sync::server
