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
//   user add NAME --role coordinator|viewer [--region R]... | passwd NAME | remove NAME | list
//                --data DIR   (the dashboard's accounts; passwords from the terminal or stdin)
//   export journal / report indicators|breakdown  --data DIR [--lang L] [--json] ...
//
// One file per command under sync/server/cli/src/commands/ (src/app.hpp); `export` and
// `report` are the coordinator exports shared with `caravan` (cli/src/export_commands.hpp), run
// on the server database.
//
// Output goes to `out`, diagnostics to `err`. Exit codes: 0 ok, 1 failure, 2 bad usage or
// input (including a data directory without a database, an unknown device).

#include <iosfwd>
#include <string>
#include <vector>

#include "caravan/storage/result.hpp"
#include "caravan/sync/server/server.hpp"

namespace caravan::sync::server {

// `args` without the program name. `front_end`: what `serve` mounts beside the API (the
// coordinator's dashboard, installed by caravan-server's main; none when empty).
[[nodiscard]] int run_cli(const std::vector<std::string>& args, std::ostream& out,
                          std::ostream& err, FrontEnd front_end = {});

[[nodiscard]] int cli_exit_code(ErrorCode code);

} // namespace caravan::sync::server
