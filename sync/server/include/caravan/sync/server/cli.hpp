#pragma once
// The `caravan-server` command line (docs/operations.md). Only this local CLI issues
// enrollment codes and revokes devices: there is no HTTP endpoint for either.
//
//   serve        --data DIR [--listen HOST:PORT] [--threads N]
//   enroll-code  --data DIR --lawyer NAME --region R [--region R2] [--role lawyer|coordinator]
//                [--ttl HOURS]
//   devices      --data DIR [--json]
//   devices revoke DEVICE --data DIR
//   conflicts    --data DIR [--json]
//   backup       --data DIR FILE
//   restore      --data DIR FILE
//   check        --data DIR [--json]
//   export journal / report indicators|breakdown  --data DIR ...   (added by the executable)
//
// The executable may add commands that work on the data directory (cli/src/server_main.cpp adds
// `export journal` and `report indicators|breakdown`, shared with `caravan`): see CliExtension.
//
// Output goes to `out`, diagnostics to `err`. Exit codes: 0 ok, 1 failure, 2 bad usage or
// input (including a data directory without a database, an unknown device).

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "caravan/storage/result.hpp"

namespace CLI {
class App;
}

namespace caravan::sync::server {

// The action of an added command, run once the arguments parsed, with the --data directory.
using DataAction = std::function<Result<void>(const std::filesystem::path& data, std::ostream& out,
                                              std::ostream& err)>;

struct CliHooks {
    std::function<void(CLI::App& command)> add_data;   // adds the required --data DIR
    std::function<void(DataAction action)> set_action; // from the parsed command's callback
};

// Adds subcommands to the server's command line.
using CliExtension = std::function<void(CLI::App& app, const CliHooks& hooks)>;

// `args` without the program name.
[[nodiscard]] int run_cli(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, const std::vector<CliExtension>& extensions = {});

[[nodiscard]] int cli_exit_code(ErrorCode code);

} // namespace caravan::sync::server
