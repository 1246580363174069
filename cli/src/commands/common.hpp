#pragma once
// Small helpers shared by the command files.

#include "../app.hpp"
#include "../output.hpp"
#include "caravan/client/ids.hpp"

namespace caravan::cli {

// Opens the engine or returns its error from the enclosing action (CARAVAN_TRY, from
// caravan/storage/result.hpp, unwraps any other Result).
#define CARAVAN_TRY_ENGINE(var, ctx)                                                            \
    CARAVAN_TRY(var##_engine, (ctx).engine());                                                   \
    client::Engine& var = *var##_engine

// "Name, home region", or "Name" on a coordinator's device (no home region).
[[nodiscard]] std::string device_owner(const client::Device& device);

void print_visit_line(Context& ctx, const client::Visit& v);
void print_consultation(Context& ctx, const client::Consultation& c);

// --vulnerable (described by `yes_help`, a help_* text) and --not-vulnerable, which exclude each
// other; with neither, `flag` stays absent: not recorded.
void add_vulnerable_flags(CLI::App* cmd, std::optional<bool>& flag, const std::string& yes_help);

} // namespace caravan::cli
