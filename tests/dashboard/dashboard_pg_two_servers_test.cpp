// The dashboard on two `caravan-server serve` processes sharing one PostgreSQL database: the
// accounts, sessions, lockouts and audit log live in the database, so a session opened through
// one process is valid on the other, and a lockout made on one holds on the other; values
// kept on the conflicts page through both at once are written by one server device.

#include <thread>

#include "../sync/e2e_support.hpp"
#include "conflict_support.hpp"
#include "dashboard_support.hpp"
#include "pg_cluster.hpp"
#include "process.hpp"

namespace {

using namespace caravan::test;
using namespace caravan::test::dashboard;

struct TwoDashboards {
    TempDir dir;
    std::string url = PgCluster::shared().database();
    e2e::Server a{dir / "a", url};
    e2e::Server b{dir / "b", url};

    void add_account(const std::string& name) {
        ProcessResult r =
            run_process({binary("caravan-server").string(), "user", "add", name, "--role",
                         "coordinator", "--data", a.data().string(), "--store", url},
                        {}, k_password + "\n");
        INFO(e2e::describe(r));
        REQUIRE(r.exit_code == 0);
    }
    std::int64_t count(const std::string& sql) {
        auto conn = caravan::sync::server::pg::Connection::open(url);
        REQUIRE(conn);
        auto rows = conn->exec(sql);
        REQUIRE(rows);
        return rows->int64(0, 0);
    }
};

} // namespace

TEST_CASE("dashboard, postgresql: a session opened on one process is valid on the other, and "
          "ends on both at logout",
          "[dashboard][postgresql]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoDashboards two;
    two.add_account("aigerim");
    Browser on_a(two.a.port());
    REQUIRE(on_a.login("aigerim").status == 303);
    const std::string session = on_a.cookie("caravan_dash");
    REQUIRE(session.size() == 64);

    Browser on_b(two.b.port());
    on_b.set_cookie("caravan_dash", session);
    const Page devices = on_b.get("/devices");
    CHECK(devices.status == 200);
    CHECK(devices.body.find("aigerim") != std::string::npos);
    CHECK(on_b.get("/indicators").status == 200);

    // Logging out on B ends the session on A too.
    REQUIRE(on_b.post("/logout", {{"csrf", devices.csrf()}}).status == 303);
    CHECK(on_a.get("/devices").status == 303);
    CHECK(two.count("SELECT count(*) FROM account_sessions") == 0);
    CHECK(two.count("SELECT count(*) FROM audit_log WHERE action IN ('login', 'logout')") == 2);
}

TEST_CASE("dashboard, postgresql: a lockout made through one process holds on the other",
          "[dashboard][postgresql]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoDashboards two;
    two.add_account("aigerim");
    Browser on_a(two.a.port());
    for (int i = 0; i < 5; ++i) {
        CHECK(on_a.login("aigerim", "wrong password " + std::to_string(i)).status == 401);
    }
    Browser on_b(two.b.port());
    const Page locked = on_b.login("aigerim");
    CHECK(locked.status == 429);
    CHECK(on_b.cookie("caravan_dash").empty());
    CHECK(two.count("SELECT count(*) FROM audit_log WHERE action = 'login_locked'") == 1);
    // The failures are stored under hashes, never the typed name.
    CHECK(two.count("SELECT count(*) FROM login_failures WHERE key LIKE '%aigerim%'") == 0);
    CHECK(two.count("SELECT count(*) FROM login_failures") == 10);
}

TEST_CASE("dashboard, postgresql: values kept through both processes at once are written by one "
          "server device, and both reach the laptops",
          "[dashboard][postgresql]") {
    CARAVAN_REQUIRE_POSTGRES();
    TwoDashboards two;
    two.add_account("aigerim");
    e2e::Laptop a(two.dir / "a.db"), b(two.dir / "b.db");
    a.setup(two.a, "Айгүл");
    b.setup(two.b, "Болат");
    a.start_field_day();
    const std::string first = e2e::add_consultation(a, "бірінші");
    const std::string second = e2e::add_consultation(a, "екінші");
    a.must_sync();
    b.must_sync();
    for (const auto& id : {first, second}) {
        outcome_set_on_both(a, b, id);
    }
    Browser on_a(two.a.port()), on_b(two.b.port());
    REQUIRE(on_a.login("aigerim").status == 303);
    REQUIRE(on_b.login("aigerim").status == 303);
    const httplib::Params form_a = keep_form(on_a.get("/conflicts"), first, "outcome", "overwritten");
    const httplib::Params form_b = keep_form(on_b.get("/conflicts"), second, "outcome", "overwritten");
    Page done_a, done_b;
    std::thread through_a([&] { done_a = on_a.post("/conflicts/keep", form_a); });
    done_b = on_b.post("/conflicts/keep", form_b);
    through_a.join();
    CHECK(done_a.status == 303);
    CHECK(done_b.status == 303);
    CHECK(two.count("SELECT count(*) FROM enrolled_devices WHERE lawyer = 'Caravan server'") == 1);
    CHECK(two.count("SELECT count(*) FROM events e JOIN meta m ON m.key = 'server_device'"
                    " AND e.device_id = m.value") == 3);
    a.must_sync();
    b.must_sync();
    for (const e2e::Laptop* l : {&a, &b}) {
        CHECK(shown(*l, first, "outcome") == "document");
        CHECK(shown(*l, second, "outcome") == "document");
    }
}
