#pragma once
// Runs `caravan` either in-process (caravan::cli::run with string streams) or as the real
// binary (a child process), so every CLI test checks both.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app.hpp"
#include "caravan/client/engine.hpp"
#include "process.hpp"

namespace caravan::test {

enum class Mode { in_process, binary };

inline std::string to_string(Mode mode) {
    return mode == Mode::in_process ? "in-process" : "binary";
}

struct Outcome {
    int code = -1;
    std::string out;
    std::string err;
};

// Sets environment variables for the lifetime of the object (in-process runs read them).
class ScopedEnv {
  public:
    explicit ScopedEnv(const std::map<std::string, std::string>& vars) {
        for (const auto& [k, v] : vars) {
            const char* old = std::getenv(k.c_str());
            m_saved.emplace_back(k, old ? std::optional<std::string>(old) : std::nullopt);
            ::setenv(k.c_str(), v.c_str(), 1);
        }
    }
    ~ScopedEnv() {
        for (const auto& [k, v] : m_saved) {
            if (v) {
                ::setenv(k.c_str(), v->c_str(), 1);
            } else {
                ::unsetenv(k.c_str());
            }
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

  private:
    std::vector<std::pair<std::string, std::optional<std::string>>> m_saved;
};

// `caravan --db DB ARGS...`
inline Outcome run_cli(Mode mode, const std::filesystem::path& db, std::vector<std::string> args,
                       const std::map<std::string, std::string>& env = {}) {
    args.insert(args.begin(), {"--db", db.string()});
    if (mode == Mode::in_process) {
        ScopedEnv scoped(env);
        std::ostringstream out, err;
        int code = cli::run(args, out, err);
        return {code, out.str(), err.str()};
    }
    args.insert(args.begin(), binary("caravan").string());
    auto r = run_process(args, env, {}, std::chrono::seconds(30));
    REQUIRE_FALSE(r.timed_out);
    return {r.exit_code, r.out, r.err};
}

// Runs and requires success, reporting stderr otherwise.
inline Outcome run_cli_ok(Mode mode, const std::filesystem::path& db,
                          const std::vector<std::string>& args) {
    auto r = run_cli(mode, db, args);
    INFO("caravan " <<
         [&] {
             std::string all;
             for (const auto& a : args) {
                 all += a + " ";
             }
             return all;
         }()
                    << "\nstderr: " << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.err.empty());
    return r;
}

// An initialised device (lawyer Арнат, Ақтөбе обл.) with village Қызылжар and a current visit
// there on 2024-05-14, made through the command line.
inline void init_device_at_visit(const std::filesystem::path& db) {
    run_cli_ok(Mode::in_process, db, {"init", "--lawyer", "Арнат", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::in_process, db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    run_cli_ok(Mode::in_process, db,
               {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
}

// stdout must be exactly one JSON document.
inline nlohmann::json one_json_document(const std::string& out) {
    INFO("stdout: " << out);
    REQUIRE(nlohmann::json::accept(out));
    return nlohmann::json::parse(out);
}

// What a command must not change: the event log and the projections.
struct DbState {
    std::int64_t events = 0;
    std::string fingerprint;
    friend bool operator==(const DbState&, const DbState&) = default;
};

inline DbState db_state(const std::filesystem::path& db) {
    auto engine = client::Engine::open(db);
    REQUIRE(engine);
    auto events = engine->event_count();
    auto fingerprint = engine->fingerprint();
    REQUIRE(events);
    REQUIRE(fingerprint);
    return {*events, *fingerprint};
}

} // namespace caravan::test
