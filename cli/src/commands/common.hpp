#pragma once
// Small helpers shared by the command files.

#include "../app.hpp"
#include "../output.hpp"
#include "caravan/client/ids.hpp"

namespace caravan::cli {

// Opens the engine or returns its error from the enclosing action.
#define CARAVAN_TRY_ENGINE(var, ctx)                                                            \
    auto var##_result = (ctx).engine();                                                          \
    if (!var##_result) {                                                                         \
        return tl::unexpected(var##_result.error());                                             \
    }                                                                                            \
    client::Engine& var = **var##_result

// Unwraps a Result into `var` or returns its error.
#define CARAVAN_TRY(var, expr)                                                                   \
    auto var##_result = (expr);                                                                  \
    if (!var##_result) {                                                                         \
        return tl::unexpected(var##_result.error());                                             \
    }                                                                                            \
    auto& var = *var##_result

void print_visit_line(Context& ctx, const client::Visit& v);
void print_consultation(Context& ctx, const client::Consultation& c);

} // namespace caravan::cli
