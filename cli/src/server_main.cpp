// caravan-server: the server's command line (sync/server/cli/), its commands one file each;
// `serve` mounts the coordinator's dashboard (cli/dashboard) beside the API.

#include <iostream>

#include "caravan/dashboard/dashboard.hpp"
#include "caravan/sync/server/cli.hpp"

int main(int argc, char** argv) {
    return caravan::sync::server::run_cli({argv + 1, argv + argc}, std::cout, std::cerr,
                                          caravan::dashboard::front_end());
}
