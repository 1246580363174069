// CLI argument validation: any argument vector gets an exit code, never a crash or a hang.
// Runs against a private in-memory database.
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "app.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Arguments are separated by NUL bytes; a database on disk is never touched.
    std::vector<std::string> args = {"--db", ":memory:"};
    std::string current;
    for (std::size_t i = 0; i < size && args.size() < 40; ++i) {
        if (data[i] == 0) {
            args.push_back(current);
            current.clear();
        } else {
            current.push_back(static_cast<char>(data[i]));
        }
    }
    args.push_back(current);
    for (std::size_t i = 2; i < args.size(); ++i) {
        if (args[i].rfind("--db", 0) == 0) {
            return 0; // the database stays in memory
        }
    }
    for (const auto& a : args) {
        // Commands that reach outside the process (files, network) are not this target's job.
        for (const char* outside : {"photo", "import", "export", "report", "backup", "restore",
                                    "check", "sync", "enroll", "schedule"}) {
            if (a == outside) {
                return 0;
            }
        }
    }
    std::ostringstream out, err;
    int code = caravan::cli::run(args, out, err);
    if (code < 0 || code > 7) {
        __builtin_trap();
    }
    return 0;
}
