// `caravan-server user add|passwd|remove|list` through the real binary: the password comes
// from standard input (never argv), is stored only as an Argon2id hash, and the account logs in.

#include "dashboard_support.hpp"
#include "process.hpp"

using namespace caravan::test::dashboard;
using caravan::test::binary;
using caravan::test::run_process;

TEST_CASE("dashboard: the operator adds, lists, re-passwords and removes accounts", "[dashboard]") {
    DashboardServer server;
    const auto user = [&](std::vector<std::string> args, const std::string& input = {}) {
        args.insert(args.begin(), {binary("caravan-server").string(), "user"});
        const auto store = server.store_args();
        args.insert(args.end(), store.begin(), store.end());
        return run_process(args, {}, input);
    };
    auto added = user({"add", "aigerim", "--role", "coordinator", "--region", k_region_a},
                      "a long secret phrase\n");
    REQUIRE(added.exit_code == 0);
    CHECK(added.out.find("aigerim") != std::string::npos);
    CHECK(added.out.find("secret") == std::string::npos);
    CHECK(server.count("SELECT count(*) FROM accounts WHERE password_hash LIKE '$argon2id$%'") ==
          1);
    CHECK(server.count("SELECT count(*) FROM accounts WHERE password_hash LIKE '%secret%'") == 0);

    CHECK(user({"add", "aigerim", "--role", "viewer"}, "another long phrase\n").exit_code != 0);
    CHECK(user({"add", "bota", "--role", "viewer"}, "short\n").exit_code == 2);
    CHECK(user({"add", "bad name", "--role", "viewer"}, "long enough phrase\n").exit_code == 2);
    CHECK(user({"add", "bota", "--role", "admin"}, "long enough phrase\n").exit_code == 2);
    CHECK(user({"add", "bota", "--role", "viewer"}).exit_code == 2); // no password at all

    const auto listed = user({"list"});
    CHECK(listed.exit_code == 0);
    CHECK(listed.out.find("aigerim") != std::string::npos);
    CHECK(listed.out.find(k_region_a) != std::string::npos);

    Browser browser(server.port());
    CHECK(browser.login("aigerim", "a long secret phrase").status == 303);
    CHECK(browser.get("/devices").status == 200);
    // A new password ends the sessions the old one opened.
    CHECK(user({"passwd", "aigerim"}, "the new long phrase\n").exit_code == 0);
    CHECK(browser.get("/devices").status == 303);
    CHECK(browser.login("aigerim", "a long secret phrase").status == 401);
    CHECK(browser.login("aigerim", "the new long phrase").status == 303);
    CHECK(user({"passwd", "nobody"}, "the new long phrase\n").exit_code == 2);

    CHECK(user({"remove", "aigerim"}).exit_code == 0);
    CHECK(browser.get("/devices").status == 303);
    CHECK(user({"remove", "aigerim"}).exit_code == 2);
    CHECK(server.audit_count("user_add") == 1);
    CHECK(server.audit_count("user_passwd") == 1);
    CHECK(server.audit_count("user_remove") == 1);
}
