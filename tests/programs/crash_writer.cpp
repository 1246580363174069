// The victim of the crash test (tests/client/crash_test.cpp): records consultations on the
// device database argv[1] until killed, and after each add() has returned writes the record's
// id and a newline to stdout with write(2) — unbuffered, so every id printed is one the engine
// reported as durable.
//
//   crash_writer DB [MAX_RECORDS]

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <string>

#include "caravan/client/engine.hpp"

using namespace caravan;

namespace {

[[noreturn]] void die(const char* what, const Error& error) {
    std::cerr << "crash_writer: " << what << ": " << error.message << "\n";
    std::exit(1);
}

bool write_all(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(STDOUT_FILENO, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        done += static_cast<size_t>(n);
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::cerr << "usage: crash_writer DB [MAX_RECORDS]\n";
        return 2;
    }
    const long max_records = argc == 3 ? std::atol(argv[2]) : 100000;
    auto engine = client::Engine::open(argv[1]);
    if (!engine) {
        die("open", engine.error());
    }
    // Each step is idempotent: an earlier run may have been killed anywhere.
    if (auto device = engine->device(); !device) {
        if (device.error().code != ErrorCode::not_initialized) {
            die("device", device.error());
        }
        if (auto ok = engine->init("Арнат Ұлтанбаев", "Жамбыл обл."); !ok) {
            die("init", ok.error());
        }
    }
    if (auto village = engine->find_village("Қызылжар"); !village) {
        if (auto ok = engine->add_village(
                {"Қызылжар", "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt});
            !ok) {
            die("village", ok.error());
        }
    }
    auto current = engine->current_visit();
    if (!current) {
        die("current visit", current.error());
    }
    if (!*current) {
        if (auto ok = engine->start_visit("Қызылжар", std::string("2024-05-14")); !ok) {
            die("visit", ok.error());
        }
    }
    client::ConsultationInput in;
    in.person = {"female", "33-45", "unemployed", true};
    in.topics = {"land", "family"};
    in.outcome = "advice";
    in.advice = "Әкімдікке өтініш жазу";
    in.lang = "kk";
    for (long i = 0; i < max_records; ++i) {
        in.question = "Жер дауы №" + std::to_string(i);
        auto c = engine->add_consultation(in);
        if (!c) {
            die("consultation", c.error());
        }
        if (!write_all(c->id + "\n")) {
            return 1;
        }
    }
    return 0;
}
