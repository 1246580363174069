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

} // namespace caravan::cli
