#include <iostream>

#include "app.hpp"
#ifdef CARAVAN_HAVE_SYNC_AGENT
#include "caravan/sync/agent/curl_transport.hpp"
#endif

int main(int argc, char** argv) {
#ifdef CARAVAN_HAVE_SYNC_AGENT
    const caravan::sync::agent::CurlGlobal curl; // curl_global_init, once, before any thread
#endif
    return caravan::cli::run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
