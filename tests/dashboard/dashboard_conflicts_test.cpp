// The conflicts page through the real server: a field two lawyers changed without seeing each
// other's change, shown with both values (labels, in the page's language), each with the
// lawyer's name and local time, never a device id or a clock value; coordinators only; region
// scope.

#include <regex>
#include <set>

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
    std::vector<std::string> consultations;
    std::string consultation; // the first
    server::Device a, b;
    std::int64_t a_edit_hlc = 0, b_edit_hlc = 0; // the first consultation's
};

// `n` consultations of `region` (village Ақсу, visit of 2024-05-14) recorded by device A, then
// the outcome of each set offline by A ("document") and by B ("referred", the later clock:
// kept), both from A's creation: `n` conflicts.
Conflicted conflicts_in(DashboardServer& s, const std::string& region, const std::string& a_name,
                        const std::string& b_name, int n = 1) {
    Conflicted out;
    server::Http http(s.port());
    out.a = s.api().enroll({region});
    out.b = s.api().enroll({region});
    server::Events ea(out.a.id), eb(out.b.id);
    const std::string village = server::new_id(), visit = server::new_id();
    std::vector<caravan::storage::Event> a_events{
        ea.self(a_name, region), ea.village(village, "Ақсу", region), ea.visit(visit, village)};
    std::vector<std::string> seen;
    for (int i = 0; i < n; ++i) {
        out.consultations.push_back(server::new_id());
        const auto create = ea.consultation(out.consultations.back(), visit);
        a_events.push_back(create);
        seen.push_back(caravan::client::version_of(create.hlc, out.a.id));
    }
    out.consultation = out.consultations.front();
    const auto edit = [&](server::Events& ev, int i, const std::string& outcome,
                          std::int64_t second) {
        auto e = ev.make("consultation", out.consultations[i], {{"outcome", outcome}}, "update");
        e.hlc = ((k_day_ms + second * 1000) << 16) | 1;
        e.payload = caravan::sync::canonical_payload(
            json{{"fields", {{"outcome", outcome}}}, {"base", {{"outcome", seen[i]}}}});
        return e;
    };
    std::vector<caravan::storage::Event> b_events{eb.self(b_name, region)};
    for (int i = 0; i < n; ++i) {
        a_events.push_back(edit(ea, i, "document", 1000 + i));
        b_events.push_back(edit(eb, i, "referred", 2000 + i));
    }
    out.a_edit_hlc = a_events[3 + n].hlc;
    out.b_edit_hlc = b_events[1].hlc;
    const auto pushed = http.push(out.a.token, server::batch(out.a.id, a_events));
    INFO(pushed.raw);
    REQUIRE(pushed.status == 200);
    REQUIRE(http.push(out.b.token, server::batch(out.b.id, b_events)).status == 200);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    return out;
}

Conflicted conflict_in(DashboardServer& s, const std::string& region, const std::string& a_name,
                       const std::string& b_name) {
    return conflicts_in(s, region, a_name, b_name);
}

// The consultations of each page of /conflicts, from the first page following the next-page
// links (`link`: "next-page"), or from `start` following the previous-page links.
std::vector<std::vector<std::string>> walk_pages(Browser& b,
                                                 const std::string& start = "/conflicts",
                                                 const std::string& link = "next-page") {
    const std::regex row(R"re(<tr data-id="([0-9a-f-]+)" data-field="outcome">)re");
    const std::regex next(R"re(href="(/conflicts\?[^"]*)" id=")re" + link + "\"");
    std::vector<std::vector<std::string>> pages;
    std::string target = start;
    while (pages.size() < 20) {
        const Page p = b.get(target);
        REQUIRE(p.status == 200);
        pages.emplace_back();
        for (auto it = std::sregex_iterator(p.body.begin(), p.body.end(), row);
             it != std::sregex_iterator(); ++it) {
            pages.back().push_back((*it)[1]);
        }
        std::smatch m;
        if (!std::regex_search(p.body, m, next)) {
            break;
        }
        target = m[1].str();
    }
    return pages;
}

std::string at(std::int64_t hlc) {
    return caravan::web::local_time(caravan::sync::server::iso_utc(hlc >> 16));
}

} // namespace

TEST_CASE("dashboard: conflicts page: both values with the lawyers' names and local times, never a "
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
    // Where the record belongs: the village, the visit's date and the region.
    CHECK(tr.find("<small>Ақсу · 2024-05-14 · " + std::string(k_region_a) + "</small>") !=
          std::string::npos);
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

TEST_CASE("dashboard: conflicts page: a viewer gets 403, a region's coordinator sees its region's "
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
    // Its rows name their place as an unscoped account's do.
    CHECK(mine.body.find("<small>Ақсу · 2024-05-14 · " + std::string(k_region_a) + "</small>") !=
          std::string::npos);

    Browser all(s.port());
    REQUIRE(all.login("all").status == 303);
    const Page both = all.get("/conflicts");
    CHECK(both.body.find(a.consultation) != std::string::npos);
    CHECK(both.body.find(other.consultation) != std::string::npos);
}

TEST_CASE("dashboard: conflicts page: none says so", "[dashboard]") {
    DashboardServer s;
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b(s.port());
    REQUIRE(b.login("aigerim").status == 303);
    const Page p = b.get("/conflicts");
    CHECK(p.status == 200);
    CHECK(p.body.find("id=\"none\"") != std::string::npos);
}

TEST_CASE("dashboard: conflicts page: 120 conflicts are 3 pages of 50, 50 and 20, none lost or "
          "repeated, and the previous-page links walk them back",
          "[dashboard]") {
    DashboardServer s;
    const Conflicted c = conflicts_in(s, k_region_a, "Айгүл", "Болат", 120);
    REQUIRE(s.count("SELECT count(*) FROM conflicts") == 120);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b(s.port());
    REQUIRE(b.login("aigerim").status == 303);
    b.set_cookie("caravan_lang", "en");
    const auto pages = walk_pages(b);
    REQUIRE(pages.size() == 3);
    CHECK(pages[0].size() == 50);
    CHECK(pages[1].size() == 50);
    CHECK(pages[2].size() == 20);
    std::vector<std::string> all;
    for (const auto& page : pages) {
        all.insert(all.end(), page.begin(), page.end());
    }
    CHECK(std::set<std::string>(all.begin(), all.end()) ==
          std::set<std::string>(c.consultations.begin(), c.consultations.end()));
    CHECK(all.size() == 120);
    const Page first = b.get("/conflicts");
    CHECK(first.body.find("Conflicts 1–50 of 120.") != std::string::npos);
    CHECK(first.body.find("id=\"previous-page\"") == std::string::npos);

    // From the last page back: the same pages in reverse, the first without a previous link.
    const std::regex next(R"re(href="(/conflicts\?[^"]*)" id="next-page")re");
    std::smatch m;
    REQUIRE(std::regex_search(first.body, m, next));
    const Page second = b.get(m[1].str());
    CHECK(second.body.find("Conflicts 51–100 of 120.") != std::string::npos);
    const std::string second_next = std::regex_search(second.body, m, next) ? m[1].str() : "";
    REQUIRE(!second_next.empty());
    const auto back = walk_pages(b, second_next, "previous-page");
    REQUIRE(back.size() == 3);
    CHECK(back[0] == pages[2]);
    CHECK(back[1] == pages[1]);
    CHECK(back[2] == pages[0]);
}

TEST_CASE("dashboard: conflicts page: a region's coordinator pages through its region's conflicts "
          "only",
          "[dashboard]") {
    DashboardServer s;
    const Conflicted a = conflicts_in(s, k_region_a, "Айгүл", "Болат", 60);
    const Conflicted other = conflicts_in(s, k_region_b, "Дана", "Ерлан", 70);
    REQUIRE(s.count("SELECT count(*) FROM conflicts") == 130);
    s.add_account("west", AccountRole::coordinator, {k_region_a});
    Browser west(s.port());
    REQUIRE(west.login("west").status == 303);
    const auto pages = walk_pages(west);
    REQUIRE(pages.size() == 2);
    CHECK(pages[0].size() == 50);
    CHECK(pages[1].size() == 10);
    std::set<std::string> seen;
    for (const auto& page : pages) {
        seen.insert(page.begin(), page.end());
    }
    CHECK(seen == std::set<std::string>(a.consultations.begin(), a.consultations.end()));
    for (const auto& id : other.consultations) {
        CHECK(seen.count(id) == 0);
    }
}
