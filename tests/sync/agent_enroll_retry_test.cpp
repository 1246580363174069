// `caravan enroll` retries like every other request (docs/protocol.md 4: every 5xx is retried
// with backoff), within a bound. Against the fake server and transport: no real sleeping.
#include "agent_fake.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::agent;

namespace {

struct Enroller {
    TempDir dir;
    FakeServer server;
    FakeTransport transport{server};
    client::Engine engine = ok(client::Engine::open(dir / "x.db"));
    std::vector<ag::Millis> sleeps;
    std::chrono::milliseconds wall{k_day_ms};

    Enroller() { ok(engine.init("Арнат", "Жамбыл обл.")); }

    Result<ag::EnrollResult> enroll() {
        ag::AgentEnvironment env;
        env.seed = 7;
        env.sleep = [this](ag::Millis d) {
            sleeps.push_back(d);
            wall += d;
        };
        env.now = [this] { return ag::TimePoint(wall); };
        ag::SyncAgent agent(engine, transport, env);
        return agent.enroll({"http://fake", k_code, std::nullopt});
    }
};

} // namespace

TEST_CASE("enroll: a 503, a 500 or a dropped link on the first try is retried with backoff and "
          "the device ends enrolled",
          "[agent][enroll]") {
    for (Fault first : {Fault::error_503, Fault::error_500, Fault::offline}) {
        DYNAMIC_SECTION("first answer: " << fault_name(first)) {
            Enroller e;
            e.transport.faults = [first](int index, const ag::HttpRequest&) {
                return index == 0 ? first : Fault::none;
            };
            auto result = e.enroll();
            INFO((result ? std::string("ok") : result.error().message));
            REQUIRE(result);
            REQUIRE(e.transport.count_path("/v1/enroll") == 2);
            REQUIRE(e.sleeps.size() == 1);
            if (first == Fault::error_503) {
                REQUIRE(e.sleeps[0] >= std::chrono::seconds(2)); // the server's Retry-After
            }
            auto stored = ok(ag::AgentState(e.engine.component_storage()).enrollment());
            REQUIRE(stored);
            REQUIRE(stored->token.size() == 64);
        }
    }
}

TEST_CASE("enroll: a server that keeps failing is tried a bounded number of times, then the "
          "error says the server is failing",
          "[agent][enroll]") {
    Enroller e;
    e.transport.faults = [](int, const ag::HttpRequest&) { return Fault::error_503; };
    auto result = e.enroll();
    REQUIRE(!result);
    REQUIRE(result.error().code == ErrorCode::server);
    REQUIRE(e.transport.count_path("/v1/enroll") == ag::SyncTuning{}.max_attempts);
    REQUIRE(!ok(ag::AgentState(e.engine.component_storage()).enrollment()));
}
