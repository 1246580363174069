#pragma once
// Helpers for client tests: simulated devices (an Engine on its own database with a clock the
// test drives), event collection and delivery between devices, and result unwrapping that
// reports the Error's message when a step fails.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caravan/client/engine.hpp"
#include "caravan/storage/event_log.hpp"
#include "must.hpp"
#include "temp_dir.hpp"

namespace caravan::test {

// 2024-05-14T10:00:00Z, a day the caravan was in the field.
inline constexpr std::int64_t k_field_day_ms = 1715680800000;

// Unwraps a Result, failing the test with the error's message when it holds none.

// The error code of a result expected to fail (fails the test when it succeeded).
template <class T> ErrorCode error_of(const Result<T>& result) {
    if (result) {
        FAIL("expected an error, the call succeeded");
    }
    return result.error().code;
}

// An Engine on its own database, with a physical clock the test sets.
class SimDevice {
  public:
    SimDevice(const std::filesystem::path& path, std::int64_t now_ms)
        : m_now(std::make_shared<std::int64_t>(now_ms)), m_engine(open(path, m_now)) {}

    client::Engine& operator*() { return m_engine; }
    client::Engine* operator->() { return &m_engine; }
    void set_now(std::int64_t ms) { *m_now = ms; }
    void advance(std::int64_t ms) { *m_now += ms; }
    [[nodiscard]] std::int64_t now() const { return *m_now; }

    static client::Engine open(const std::filesystem::path& path,
                               const std::shared_ptr<std::int64_t>& now) {
        client::EngineOptions options;
        options.clock = [now] { return *now; };
        return ok(client::Engine::open(path, options));
    }

  private:
    std::shared_ptr<std::int64_t> m_now;
    client::Engine m_engine;
};

// Every event of the log, in log order.
inline std::vector<storage::Event> all_events(client::Engine& engine) {
    std::vector<storage::Event> events;
    std::int64_t after = 0;
    for (int batch = 0; batch < 10000; ++batch) {
        std::int64_t last = after;
        auto visited = engine.scan_events(after, 500, [&](const storage::Event& e) {
            events.push_back(e);
            last = e.log_position;
            return true;
        });
        if (ok(std::move(visited)) == 0) {
            return events;
        }
        after = last;
    }
    FAIL("event log scan did not terminate");
    return events;
}

// Applies every event of `from` to `to`; returns how many were new there.
inline int deliver(client::Engine& from, client::Engine& to) {
    int fresh = 0;
    for (storage::Event& e : all_events(from)) {
        e.server_seq.reset();
        e.log_position = 0;
        fresh += ok(to.apply_remote(e)) ? 1 : 0;
    }
    return fresh;
}

inline std::int64_t event_count(client::Engine& engine) {
    return ok(engine.event_count());
}
inline std::string fingerprint(client::Engine& engine) {
    return ok(engine.fingerprint());
}

// init + a village + a visit made current.
inline client::Visit start_field_day(client::Engine& engine,
                                     const std::string& lawyer = "Арнат Ұлтанбаев",
                                     const std::string& village = "Қызылжар") {
    ok(engine.init(lawyer, "Жамбыл обл."));
    ok(engine.add_village({village, "Ақтөбе обл.", std::nullopt, std::nullopt, std::nullopt}));
    return ok(engine.start_visit(village, std::string("2024-05-14")));
}

inline client::ConsultationInput consultation_input(const std::string& question,
                                                    const std::string& gender = "female") {
    client::ConsultationInput in;
    in.person = {gender, "33-45", "unemployed", true};
    in.topics = {"land", "family"};
    in.outcome = "advice";
    in.question = question;
    in.advice = "Әкімдікке өтініш жазу";
    in.lang = "kk";
    return in;
}

// Two lawyers' laptops that share one consultation, `id`: a recorded it on the field day, b
// (enrolled later, so that b's device id sorts after a's) received it, and a has b's device
// record. Their databases are in `dir`.
struct SharedConsultation {
    SharedConsultation() {
        start_field_day(*a);
        a.advance(1000);
        id = ok(a->add_consultation(consultation_input("Бастапқы сұрақ"))).id;
        ok(b->init("Гүлнар Сейітова", "Ақмола обл."));
        REQUIRE(deliver(*a, *b) > 0);
        REQUIRE(deliver(*b, *a) == 1); // b's enrolment
        a_id = ok(a->device()).id;
        b_id = ok(b->device()).id;
        REQUIRE(a_id < b_id); // enrolled later: a larger UUIDv7
    }
    // Each device applies the other's events.
    void exchange() {
        deliver(*a, *b);
        deliver(*b, *a);
    }
    TempDir dir; // a.db, b.db, and room for more
    SimDevice a{dir / "a.db", k_field_day_ms};
    SimDevice b{dir / "b.db", k_field_day_ms + 500};
    std::string id, a_id, b_id;
};

} // namespace caravan::test
