// The server never accepts a record whose parent it refused or does not hold (issue 10, "A
// lawyer's visit in another region loses its consultations"): such a record gets its own fate,
// parent_rejected or parent_unknown, naming the parent; records under another device's
// accepted record still flow.
#include "server_test_support.hpp"

using namespace caravan;
using namespace caravan::test::server;

namespace {

storage::Event attendance(Events& ev, const std::string& visit) {
    return ev.make("attendance", new_id(),
                   {{"visit_id", visit},
                    {"gender", "male"},
                    {"age", "59+"},
                    {"category", "older"},
                    {"vulnerable", false},
                    {"count", 4},
                    {"deleted", false}});
}
storage::Event survey(Events& ev, const std::string& visit) {
    return ev.make("survey", new_id(),
                   {{"visit_id", visit}, {"respondents", 5}, {"satisfied", 4}, {"deleted", false}});
}
storage::Event photo(Events& ev, const std::string& visit) {
    return ev.make(
        "photo", new_id(),
        {{"visit_id", visit}, {"sha256", std::string(64, 'a')}, {"size", 10}, {"deleted", false}});
}

void require_rejected(const sync::EventResult& r, const std::string& code,
                      const std::string& parent) {
    INFO("seq " << r.seq << ": " << sync::to_string(r.fate) << " " << r.code << " " << r.message);
    CHECK(r.fate == sync::EventFate::rejected);
    CHECK(r.code == code);
    CHECK(r.message.find(parent) != std::string::npos);
    CHECK_FALSE(r.server_seq);
}

} // namespace

TEST_CASE("server push: records under a visit refused out of scope are refused as "
          "parent_rejected, in the same push and in a later one",
          "[server][scope]") {
    TestServer server;
    Device coordinator = server.enroll({}, srv::Role::coordinator);
    Device lawyer = server.enroll({k_region_b}); // a lawyer of Ақтөбе
    Http http(server.port());

    // The coordinator adds a village of Жамбыл: every device receives it.
    Events ec(coordinator.id);
    std::string zhambyl_village = new_id();
    ok_push(http.push(coordinator.token,
                      batch(coordinator.id, {ec.village(zhambyl_village, "Ақжар", k_region_a)})));
    std::int64_t feed = server.event_count();

    Events ev(lawyer.id);
    std::string visit = new_id(), consultation = new_id();
    auto r = ok_push(
        http.push(lawyer.token,
                  batch(lawyer.id, {ev.self("Lawyer", k_region_b), ev.visit(visit, zhambyl_village),
                                    ev.consultation(consultation, visit), attendance(ev, visit),
                                    survey(ev, visit), photo(ev, visit)})));
    REQUIRE(r.results.size() == 6);
    CHECK(r.acked_seq == 6);
    CHECK(r.results[0].fate == sync::EventFate::accepted);
    CHECK(r.results[1].code == "out_of_scope");
    for (std::size_t i = 2; i < 6; ++i) {
        require_rejected(r.results[i], "parent_rejected", visit);
    }

    // Later pushes: another record under the refused visit, an edit of the refused
    // consultation, the visit's closing.
    auto later = ok_push(http.push(
        lawyer.token,
        batch(lawyer.id, {ev.consultation(new_id(), visit),
                          ev.make("consultation", consultation, {{"outcome", "case"}}, "update"),
                          ev.make("visit", visit, {{"closed", true}}, "update")})));
    REQUIRE(later.results.size() == 3);
    require_rejected(later.results[0], "parent_rejected", visit);
    require_rejected(later.results[1], "parent_rejected", consultation);
    require_rejected(later.results[2], "parent_rejected", visit);

    // Nothing of it is in the feed or the projections: only the lawyer's own device record.
    CHECK(server.event_count() == feed + 1);
    for (std::string table : {"visits", "consultations", "attendance", "surveys", "photos"}) {
        INFO(table);
        CHECK(server.count("SELECT count(*) FROM " + table) == 0);
    }
    CHECK(server.count("SELECT count(*) FROM rejected_events") == 8);
}

TEST_CASE("server push: a visit whose village was refused, and the records under it, are "
          "refused as parent_rejected",
          "[server][scope]") {
    TestServer server;
    Device lawyer = server.enroll({k_region_b});
    Http http(server.port());
    Events ev(lawyer.id);
    std::string village = new_id(), visit = new_id();
    auto r =
        ok_push(http.push(lawyer.token, batch(lawyer.id, {ev.village(village, "Ақжар", k_region_a),
                                                          ev.visit(visit, village),
                                                          ev.consultation(new_id(), visit)})));
    REQUIRE(r.results.size() == 3);
    CHECK(r.results[0].code == "out_of_scope");
    require_rejected(r.results[1], "parent_rejected", village);
    require_rejected(r.results[2], "parent_rejected", visit);
    CHECK(server.event_count() == 0);
}

TEST_CASE("server push: a record whose parent is not on the server is refused as "
          "parent_unknown, for a coordinator too",
          "[server][scope]") {
    TestServer server;
    Device lawyer = server.enroll({k_region_a});
    Device coordinator = server.enroll({}, srv::Role::coordinator);
    Http http(server.port());
    for (const Device* d : {&lawyer, &coordinator}) {
        Events ev(d->id);
        std::string nowhere_visit = new_id(), nowhere_village = new_id();
        auto r = ok_push(http.push(d->token, batch(d->id, {ev.consultation(new_id(), nowhere_visit),
                                                           attendance(ev, nowhere_visit),
                                                           ev.visit(new_id(), nowhere_village)})));
        REQUIRE(r.results.size() == 3);
        require_rejected(r.results[0], "parent_unknown", nowhere_visit);
        require_rejected(r.results[1], "parent_unknown", nowhere_visit);
        require_rejected(r.results[2], "parent_unknown", nowhere_village);
    }
    CHECK(server.event_count() == 0);
}

TEST_CASE("server push: records under another device's accepted village or visit are accepted",
          "[server][scope]") {
    TestServer server;
    Device coordinator = server.enroll({}, srv::Role::coordinator);
    Device lawyer = server.enroll({k_region_a});
    Http http(server.port());
    Events ec(coordinator.id), ev(lawyer.id);
    std::string village = new_id(), visit = new_id();
    // A coordinator's village; the lawyer's visit to it; the coordinator's records under it.
    ok_push(http.push(coordinator.token,
                      batch(coordinator.id, {ec.village(village, "Қызылжар", k_region_a)})));
    auto r = ok_push(http.push(lawyer.token, batch(lawyer.id, {ev.visit(visit, village),
                                                               ev.consultation(new_id(), visit)})));
    for (const auto& result : r.results) {
        CHECK(result.fate == sync::EventFate::accepted);
    }
    auto c = ok_push(
        http.push(coordinator.token, batch(coordinator.id, {ec.consultation(new_id(), visit),
                                                            survey(ec, visit), photo(ec, visit)})));
    for (const auto& result : c.results) {
        INFO(result.code << " " << result.message);
        CHECK(result.fate == sync::EventFate::accepted);
    }
    CHECK(server.count("SELECT count(*) FROM consultations") == 2);
}
