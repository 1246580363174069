#pragma once
// Options of the chaos run, set from its command line (chaos_main.cpp).
#include <cstdint>

namespace caravan::test::chaos {

struct Options {
    int rounds = 4;
    int devices = 3;
    std::uint64_t seed = 20261124;
};

Options& options();

} // namespace caravan::test::chaos
