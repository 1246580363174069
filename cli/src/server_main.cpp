#include <iostream>

#include "caravan/sync/server/cli.hpp"

int main(int argc, char** argv) {
    return caravan::sync::server::run_cli({argv + 1, argv + argc}, std::cout, std::cerr);
}
