#pragma once
// The coordinator export commands, shared by both executables:
//
//   export journal      (--region R | --all) [--from D] [--to D] [--format csv|json|xlsx] [-o FILE]
//   report indicators   --plan FILE [--region R] [--from D] [--to D] [--format F] [-o FILE]
//   report breakdown    [--region R] [--from D] [--to D] [--format F] [-o FILE]
//
// `caravan` runs them on the device database, `caravan-server` on the server's (the same
// projection tables), so both parse the same options, check them the same way and print the
// same output: the data goes to the output file (written atomically) or to `out`; with -o a
// one-line summary (one JSON document with --json) goes to `out`.
//
// This file knows nothing of where the database comes from: the program adds its own options
// to each command (the server: --data, --lang, --json) and opens the database when the action
// runs (after checking the options it can check alone). Errors come back as values; the program
// maps them to its exit code (invalid_input and not_found, e.g. an unknown region or an unwritable
// output path: 2).

#include <functional>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/storage/database.hpp"

namespace caravan::cli {

// Where an export command prints, and how.
struct ExportIo {
    std::ostream& out;
    std::ostream& err;
    bool json = false;                    // the summary (and a report's default format) as JSON
    client::Lang lang = client::Lang::en; // labels, headers and summaries
    std::string program = "caravan";      // prefixes the notes printed on `err`
};

// Opens the database the program exports from; called once the command's own options passed
// their checks (a bad option is reported without touching any database).
using OpenDatabase = std::function<Result<storage::Database*>()>;

// A parsed export command.
using ExportAction = std::function<Result<void>(ExportIo& io, const OpenDatabase& open)>;

struct ExportHost {
    // Adds the program's own options to each export and report command (may be empty).
    std::function<void(CLI::App& command)> add_options;
    // Receives the action of the command that was parsed (called from its CLI11 callback).
    std::function<void(ExportAction action)> set_action;
};

// Adds `export journal` to `app`.
void add_export_commands(CLI::App& app, const ExportHost& host);
// Adds `report indicators` and `report breakdown` to `app`.
void add_report_commands(CLI::App& app, const ExportHost& host);

} // namespace caravan::cli
