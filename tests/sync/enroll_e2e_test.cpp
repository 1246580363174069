// `caravan enroll` against the real `caravan-server` through the fault proxy: an answer lost on
// the way and a server that answers 503 are retried and end with the laptop enrolled once; a
// laptop already enrolled cannot enroll its device id again (issue 10, device identity
// takeover) and its code stays unused.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

#include <atomic>
#include <thread>

#include "fault_proxy.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

std::int64_t unused_codes(const Server& server) {
    if (!server.store().empty()) {
        auto conn = ok(sync::server::pg::Connection::open(server.store()));
        auto rows = ok(conn.exec("SELECT count(*) FROM enrollment_codes WHERE used_at IS NULL"));
        return rows.int64(0, 0);
    }
    auto db = open_server_db(server);
    auto stmt = ok(db.prepare("SELECT count(*) FROM enrollment_codes WHERE used_at IS NULL"));
    REQUIRE(ok(stmt.step()));
    return stmt.column_int(0);
}

void require_enrolled_once(const Server& server, const Laptop& laptop) {
    json devices = server_devices(server);
    REQUIRE(devices.size() == 1);
    REQUIRE(devices[0]["device_id"] == laptop.device_id());
    REQUIRE(unused_codes(server) == 0);
    laptop.must({"village", "add", "Қызылжар", "--region", k_region});
    laptop.must_sync();
    REQUIRE(server_devices(server).size() == 1);
    require_exactly_once(server, {&laptop});
}

} // namespace

TEST_CASE("enroll e2e: the first answer lost on the way is retried and the laptop ends enrolled "
          "with one device record",
          "[sync][e2e][enroll]") {
    TempDir dir;
    Server server(dir / "server");
    FaultProxy proxy(server.port());
    Faults drop;
    drop.drop_response = 1.0;
    proxy.set_faults(drop);
    // The server enrolls the device, its answer is cut off; everything after goes through.
    proxy.on_response([&](const std::string& path) {
        if (path == "/v1/enroll") {
            proxy.set_faults({});
        }
    });
    Laptop laptop(dir / "l.db");
    laptop.must({"init", "--lawyer", "Арнат", "--region", k_region});
    ProcessResult r =
        laptop.run({"enroll", "--server", proxy.url(), "--code", server.code("Арнат", {k_region})});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    proxy.on_response({});
    REQUIRE(proxy.stats().dropped_responses == 1);
    REQUIRE(proxy.stats().requests == 2);
    require_enrolled_once(server, laptop);
}

TEST_CASE("enroll e2e: a server answering 503 and then OK enrolls the laptop",
          "[sync][e2e][enroll]") {
    TempDir dir;
    Server server(dir / "server");
    FaultProxy proxy(server.port());
    Faults unavailable;
    unavailable.error_503 = 1.0; // with Retry-After: 1
    proxy.set_faults(unavailable);
    // Heals the link after the first 503: the laptop waits at least the Retry-After second.
    std::atomic<bool> done{false};
    std::thread healer([&] {
        for (int i = 0; i < 60000 && !done; ++i) {
            if (proxy.stats().errors >= 1) {
                proxy.set_faults({});
                return;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    });
    Laptop laptop(dir / "l.db");
    laptop.must({"init", "--lawyer", "Арнат", "--region", k_region});
    ProcessResult r =
        laptop.run({"enroll", "--server", proxy.url(), "--code", server.code("Арнат", {k_region})});
    done = true;
    healer.join();
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    REQUIRE(proxy.stats().errors == 1);
    require_enrolled_once(server, laptop);
}

TEST_CASE("enroll e2e: a laptop already enrolled cannot enroll its device id again with a new "
          "code: exit 5, the code stays unused, the laptop still syncs",
          "[sync][e2e][enroll][takeover]") {
    TempDir dir;
    Server server(dir / "server");
    Laptop laptop(dir / "l.db");
    laptop.setup(server, "Арнат");
    laptop.start_field_day();
    laptop.must_sync();

    std::string code = server.code("Арнат", {k_region});
    ProcessResult r = laptop.run({"enroll", "--server", server.url(), "--code", code});
    INFO(describe(r));
    REQUIRE(r.exit_code == 5);
    REQUIRE(r.err.find("caravan init") != std::string::npos);
    REQUIRE(unused_codes(server) == 1);
    laptop.must({"village", "add", "Ақсу", "--region", k_region});
    laptop.must_sync();
    require_exactly_once(server, {&laptop});

    // The code is still good for a laptop of its own.
    Laptop other(dir / "other.db");
    other.must({"init", "--lawyer", "Арнат", "--region", k_region});
    other.must({"enroll", "--server", server.url(), "--code", code});
    REQUIRE(server_devices(server).size() == 2);
}
