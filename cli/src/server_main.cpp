// caravan-server: the server's command line (sync/server/cli/), its commands one file each.

#include <iostream>

#include "caravan/sync/server/cli.hpp"

int main(int argc, char** argv) {
    return caravan::sync::server::run_cli({argv + 1, argv + argc}, std::cout, std::cerr);
}
