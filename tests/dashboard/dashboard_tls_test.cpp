// The dashboard over the server's own TLS: the session cookie is Secure, and a POST must come
// from the https origin.

#include "../sync/tls_support.hpp"
#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;

TEST_CASE("dashboard: over TLS the session cookie is Secure and only the https origin may post",
          "[dashboard]") {
    caravan::test::TempDir dir;
    caravan::test::tls::Pki pki(dir.path() / "pki");
    const auto [cert, key] = pki.leaf("server", "IP:127.0.0.1");
    DashboardServer server({}, {cert, key});
    server.add_account("aigerim", AccountRole::coordinator);
    Browser browser(server.port(), pki.ca_pem.string());
    const Page in = browser.login("aigerim");
    REQUIRE(in.status == 303);
    bool secure = false;
    for (const auto& c : in.set_cookies()) {
        if (c.starts_with("caravan_dash=")) {
            secure = c.find("; Secure") != std::string::npos;
        }
    }
    CHECK(secure);
    const std::string csrf = browser.get("/devices").csrf();
    REQUIRE(csrf.size() == 64);
    // The page's own origin is https: the same host with http is another origin.
    CHECK(browser
              .post("/devices/threshold", {{"csrf", csrf}, {"hours", "24"}},
                    "http://127.0.0.1:" + std::to_string(server.port()))
              .status == 403);
    CHECK(server.audit_count("threshold_set") == 0);
    CHECK(browser.post("/devices/threshold", {{"csrf", csrf}, {"hours", "24"}}).status == 303);
    CHECK(server.audit_count("threshold_set") == 1);
}
