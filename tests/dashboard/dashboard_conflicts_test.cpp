// The conflicts page through the real server: a field two lawyers changed without seeing each
// other's change, shown with both values (labels, in the page's language), each with the
// lawyer's name and local time, never a device id or a clock value; coordinators only; region
// scope.

#include "caravan/client/ids.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/web/page.hpp"
#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;
using caravan::sync::server::AccountRole;
using nlohmann::json;
namespace server = caravan::test::server;

namespace {

struct Conflicted {
    std::string consultation;
    server::Device a, b;
    std::int64_t a_edit_hlc = 0, b_edit_hlc = 0;
};

// A consultation of `region` recorded by device A, then its outcome set offline by A
// ("document") and by B ("referred", the later clock: kept), both from A's creation.
Conflicted conflict_in(DashboardServer& s, const std::string& region, const std::string& a_name,
                       const std::string& b_name) {
    Conflicted out;
    server::Http http(s.port());
    out.a = s.api().enroll({region});
    out.b = s.api().enroll({region});
    server::Events ea(out.a.id), eb(out.b.id);
    const std::string village = server::new_id(), visit = server::new_id();
    out.consultation = server::new_id();
    std::vector<caravan::storage::Event> a_events{
        ea.self(a_name, region), ea.village(village, "Ақсу", region), ea.visit(visit, village)};
    const auto create = ea.consultation(out.consultation, visit);
    a_events.push_back(create);
    const std::string seen = caravan::client::version_of(create.hlc, out.a.id);
    const auto edit = [&](server::Events& ev, const std::string& outcome, std::int64_t second) {
        auto e = ev.make("consultation", out.consultation, {{"outcome", outcome}}, "update");
        e.hlc = ((k_day_ms + second * 1000) << 16) | 1;
        e.payload = caravan::sync::canonical_payload(
            json{{"fields", {{"outcome", outcome}}}, {"base", {{"outcome", seen}}}});
        return e;
    };
    a_events.push_back(edit(ea, "document", 100));
    out.a_edit_hlc = a_events.back().hlc;
    const auto pushed = http.push(out.a.token, server::batch(out.a.id, a_events));
    INFO(pushed.raw);
    REQUIRE(pushed.status == 200);
    const auto b_self = eb.self(b_name, region);
    const auto b_edit = edit(eb, "referred", 200);
    out.b_edit_hlc = b_edit.hlc;
    REQUIRE(http.push(out.b.token, server::batch(out.b.id, {b_self, b_edit})).status == 200);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    return out;
}

std::string at(std::int64_t hlc) {
    return caravan::web::local_time(caravan::sync::server::iso_utc(hlc >> 16));
}

} // namespace

TEST_CASE("dashboard conflicts: both values with the lawyers' names and local times, never a "
          "device id or a clock value",
          "[dashboard]") {
    DashboardServer s;
    const Conflicted c = conflict_in(s, k_region_a, "Айгүл Сапарова", "Болат Ержанов");
    REQUIRE(s.count("SELECT count(*) FROM conflicts") == 1);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b(s.port());
    REQUIRE(b.login("aigerim").status == 303);
    b.set_cookie("caravan_lang", "en");
    const Page p = b.get("/conflicts");
    REQUIRE(p.status == 200);
    const auto row = p.body.find("<tr data-id=\"" + c.consultation + "\" data-field=\"outcome\">");
    REQUIRE(row != std::string::npos);
    const std::string tr = p.body.substr(row, p.body.find("</tr>", row) - row);
    CHECK(tr.find("href=\"/record?id=" + c.consultation + "\"") != std::string::npos);
    CHECK(tr.find("<td class=\"kept\"><strong>referred to a body</strong>") != std::string::npos);
    CHECK(tr.find("by Болат Ержанов at " + at(c.b_edit_hlc)) != std::string::npos);
    CHECK(tr.find("<td class=\"lost\">document drafted") != std::string::npos);
    CHECK(tr.find("by Айгүл Сапарова at " + at(c.a_edit_hlc)) != std::string::npos);
    for (const auto* d : {&c.a, &c.b}) {
        CHECK(p.body.find(d->id) == std::string::npos);
        CHECK(p.body.find(caravan::client::short_id(d->id)) == std::string::npos);
    }
    CHECK(p.body.find(std::to_string(c.b_edit_hlc)) == std::string::npos);
    b.set_cookie("caravan_lang", "ru");
    CHECK(b.get("/conflicts").body.find("направлен в орган") != std::string::npos);
}

TEST_CASE("dashboard conflicts: a viewer gets 403, a region's coordinator sees its region's "
          "conflicts only",
          "[dashboard]") {
    DashboardServer s;
    const Conflicted a = conflict_in(s, k_region_a, "Айгүл", "Болат");
    const Conflicted other = conflict_in(s, k_region_b, "Дана", "Ерлан");
    s.add_account("auditor", AccountRole::viewer);
    s.add_account("west", AccountRole::coordinator, {k_region_a});
    s.add_account("all", AccountRole::coordinator);
    Browser viewer(s.port());
    REQUIRE(viewer.login("auditor").status == 303);
    const Page refused = viewer.get("/conflicts");
    CHECK(refused.status == 403);
    CHECK(refused.body.find(a.consultation) == std::string::npos);
    CHECK(viewer.get("/devices").body.find("href=\"/conflicts\"") == std::string::npos);

    Browser west(s.port());
    REQUIRE(west.login("west").status == 303);
    const Page mine = west.get("/conflicts");
    REQUIRE(mine.status == 200);
    CHECK(mine.body.find(a.consultation) != std::string::npos);
    CHECK(mine.body.find(other.consultation) == std::string::npos);
    CHECK(mine.body.find("Дана") == std::string::npos);

    Browser all(s.port());
    REQUIRE(all.login("all").status == 303);
    const Page both = all.get("/conflicts");
    CHECK(both.body.find(a.consultation) != std::string::npos);
    CHECK(both.body.find(other.consultation) != std::string::npos);
}

TEST_CASE("dashboard conflicts: none says so", "[dashboard]") {
    DashboardServer s;
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b(s.port());
    REQUIRE(b.login("aigerim").status == 303);
    const Page p = b.get("/conflicts");
    CHECK(p.status == 200);
    CHECK(p.body.find("id=\"none\"") != std::string::npos);
}
