// Catch2 main for the chaos run, with its own options:
//   caravan_chaos [--rounds N] [--devices N] [--chaos-seed N] [Catch2 options]
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "chaos_options.hpp"

namespace caravan::test::chaos {

Options& options() {
    static Options o;
    return o;
}

} // namespace caravan::test::chaos

int main(int argc, char* argv[]) {
    using caravan::test::chaos::options;
    Catch::Session session;
    auto& o = options();
    auto cli = session.cli() |
               Catch::clara::Opt(o.rounds, "rounds")["--rounds"]("rounds of record + sync") |
               Catch::clara::Opt(o.devices, "devices")["--devices"]("devices (2..8)") |
               Catch::clara::Opt(o.seed, "seed")["--chaos-seed"]("seed of every random choice");
    session.cli(cli);
    if (int rc = session.applyCommandLine(argc, argv); rc != 0) {
        return rc;
    }
    if (o.rounds < 1 || o.rounds > 100000 || o.devices < 2 || o.devices > 8) {
        std::cerr << "caravan_chaos: --rounds must be 1..100000 and --devices 2..8\n";
        return 2;
    }
    return session.run();
}
