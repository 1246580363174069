#include <iostream>

#include "app.hpp"
#include "caravan/sync/agent/curl_transport.hpp"

int main(int argc, char** argv) {
    const caravan::sync::agent::CurlGlobal curl; // curl_global_init, once, before any thread
    return caravan::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
