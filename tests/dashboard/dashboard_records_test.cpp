// The record browser through the real server: a search by region, period, village, topic,
// outcome and words, a page at a time, newest first; a record's page with its history (lawyers'
// names and local times, no device ids or clock values); coordinators only; region scope on the
// list and on the record (another region's record is 404, nothing of it shown).

#include <map>
#include <regex>
#include <set>

#include "caravan/web/page.hpp"
#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;
using caravan::sync::server::AccountRole;
using nlohmann::json;
namespace server = caravan::test::server;

namespace {

// The edit's clock: seconds after the server's day (the first device's events are at 1..60).
constexpr std::int64_t k_edit_s = 502;
const std::string k_secret = "Құпия сұрақ: ЖЕР телімі";

struct Seeded {
    std::vector<std::string> a_ids; // region A, oldest first
    std::string b_id;               // region B
    std::string edited;             // region A, edited by a second device
    server::Device device_a, device_a2, device_b;
};

// Region A: 55 consultations at Ақсу on 2024-05-14 (land, advice) and 3 at Бескөл on
// 2024-06-03 (family, referred; one with the secret words), the last edited later by a second
// device of another lawyer; region B: one consultation.
Seeded seed(DashboardServer& s) {
    Seeded out;
    server::Http http(s.port());
    out.device_a = s.api().enroll({k_region_a});
    server::Events ev(out.device_a.id);
    std::vector<caravan::storage::Event> events{ev.self("Айгүл Сапарова", k_region_a)};
    const std::string aksu = server::new_id(), beskol = server::new_id();
    events.push_back(ev.village(aksu, "Ақсу", k_region_a));
    events.push_back(ev.village(beskol, "Бескөл", k_region_a));
    const std::string may = server::new_id(), june = server::new_id();
    events.push_back(ev.make("visit", may,
                             {{"village_id", aksu},
                              {"date", "2024-05-14"},
                              {"lawyer", "Айгүл"},
                              {"closed", true},
                              {"deleted", false}}));
    events.push_back(ev.make("visit", june,
                             {{"village_id", beskol},
                              {"date", "2024-06-03"},
                              {"lawyer", "Айгүл"},
                              {"closed", true},
                              {"deleted", false}}));
    for (int i = 0; i < 55; ++i) {
        out.a_ids.push_back(server::new_id());
        events.push_back(
            ev.make("consultation", out.a_ids.back(),
                    consultation_fields(may, "land", "advice", "сұрақ " + std::to_string(i))));
    }
    for (int i = 0; i < 3; ++i) {
        out.a_ids.push_back(server::new_id());
        events.push_back(
            ev.make("consultation", out.a_ids.back(),
                    consultation_fields(june, "family", "referred",
                                        i == 1 ? k_secret : "отбасы " + std::to_string(i))));
    }
    REQUIRE(http.push(out.device_a.token, server::batch(out.device_a.id, events)).status == 200);
    out.edited = out.a_ids.back();

    out.device_a2 = s.api().enroll({k_region_a});
    server::Events ev2(out.device_a2.id);
    const auto self2 = ev2.self("Болат Ержанов", k_region_a);
    auto edit = ev2.make("consultation", out.edited,
                         {{"outcome", "document"}, {"advice", "арыз жазылды"}}, "update");
    edit.hlc = ((k_day_ms + k_edit_s * 1000) << 16) | 1; // after every event of the first device
    REQUIRE(http.push(out.device_a2.token, server::batch(out.device_a2.id, {self2, edit})).status ==
            200);

    out.device_b = s.api().enroll({k_region_b});
    server::Events evb(out.device_b.id);
    const std::string shoqan = server::new_id(), visit_b = server::new_id();
    out.b_id = server::new_id();
    REQUIRE(http.push(out.device_b.token,
                      server::batch(out.device_b.id,
                                    {evb.self("Дана", k_region_b),
                                     evb.village(shoqan, "Шоқан", k_region_b),
                                     evb.make("visit", visit_b,
                                              {{"village_id", shoqan},
                                               {"date", "2024-07-01"},
                                               {"lawyer", "Дана"},
                                               {"closed", true},
                                               {"deleted", false}}),
                                     evb.make("consultation", out.b_id,
                                              consultation_fields(visit_b, "land", "advice",
                                                                  "B аймағының сұрағы"))}))
                .status == 200);
    return out;
}

// The consultation ids of a result page, in order.
std::vector<std::string> listed(const Page& page) {
    std::vector<std::string> ids;
    const std::regex row(R"re(<tr data-id="([0-9a-f-]+)">)re");
    for (auto it = std::sregex_iterator(page.body.begin(), page.body.end(), row);
         it != std::sregex_iterator(); ++it) {
        ids.push_back((*it)[1]);
    }
    return ids;
}

// The "next page" link of a result page ("" when none), as the browser follows it.
std::string next_link(const Page& page) {
    const std::smatch m = [&] {
        std::smatch found;
        std::regex_search(page.body, found,
                          std::regex(R"re(href="(/records\?[^"]*)" id="next-page")re"));
        return found;
    }();
    if (m.empty()) {
        return "";
    }
    return std::regex_replace(m[1].str(), std::regex("&amp;"), "&");
}

Browser logged_in(DashboardServer& s, const std::string& name) {
    Browser b(s.port());
    REQUIRE(b.login(name).status == 303);
    return b;
}

} // namespace

TEST_CASE("dashboard: record browser: a search pages through every match newest first, 50 at a time",
          "[dashboard]") {
    DashboardServer s;
    const Seeded seeded = seed(s);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b = logged_in(s, "aigerim");

    const Page first = b.get("/records?region=" + caravan::web::url_encode(k_region_a));
    REQUIRE(first.status == 200);
    const auto page1 = listed(first);
    REQUIRE(page1.size() == 50);
    // Newest visit first: the three June consultations lead, in descending id order.
    CHECK(std::vector(page1.begin(), page1.begin() + 3) ==
          std::vector<std::string>{seeded.a_ids[57], seeded.a_ids[56], seeded.a_ids[55]});
    const std::string next = next_link(first);
    REQUIRE_FALSE(next.empty());
    const Page second = b.get(next);
    REQUIRE(second.status == 200);
    const auto page2 = listed(second);
    CHECK(page2.size() == 8);
    CHECK(next_link(second).empty());
    std::set<std::string> all(page1.begin(), page1.end());
    all.insert(page2.begin(), page2.end());
    CHECK(all == std::set<std::string>(seeded.a_ids.begin(), seeded.a_ids.end()));
    CHECK(all.count(seeded.b_id) == 0);
    // Every region: B's consultation (July) comes first.
    CHECK(listed(b.get("/records")).front() == seeded.b_id);
}

TEST_CASE("dashboard: record browser: village, topic, outcome, words and dates narrow the search",
          "[dashboard]") {
    DashboardServer s;
    const Seeded seeded = seed(s);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b = logged_in(s, "aigerim");
    const auto ids = [&](const std::string& query) {
        const Page p = b.get("/records?" + query);
        REQUIRE(p.status == 200);
        return listed(p);
    };
    using V = std::vector<std::string>;
    const V june{seeded.a_ids[57], seeded.a_ids[56], seeded.a_ids[55]};
    // Village as part of the name, any case (Kazakh letters folded too).
    CHECK(ids("village=" + caravan::web::url_encode("бЕСКӨ")) == june);
    CHECK(ids("topic=family") == june);
    // The edited consultation's outcome is its current one.
    CHECK(ids("outcome=referred") == V{seeded.a_ids[56], seeded.a_ids[55]});
    CHECK(ids("outcome=document") == V{seeded.edited});
    CHECK(ids("q=" + caravan::web::url_encode("жер ТЕЛІМІ")) == V{seeded.a_ids[56]});
    CHECK(ids("q=" + caravan::web::url_encode("арыз")) == V{seeded.edited});
    CHECK(ids("from=2024-06-01&to=2024-06-30") == june);
    CHECK(ids("topic=family&outcome=advice").empty());
    const Page none = b.get("/records?q=nothing-like-this");
    CHECK(none.body.find("id=\"none\"") != std::string::npos);
    // Bad input is named on the page, never a crash.
    const Page bad = b.get("/records?from=2024-13-40");
    CHECK(bad.status == 400);
    CHECK(bad.body.find("form-error") != std::string::npos);
}

TEST_CASE("dashboard: record page: the page shows the consultation and its history with lawyers' "
          "names and local times, never device ids or clock values, and the view is audited",
          "[dashboard]") {
    DashboardServer s;
    const Seeded seeded = seed(s);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b = logged_in(s, "aigerim");
    b.set_cookie("caravan_lang", "en");
    const Page p = b.get("/record?id=" + seeded.edited);
    REQUIRE(p.status == 200);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    CHECK(p.body.find("data-field=\"outcome\">document drafted<") != std::string::npos);
    CHECK(p.body.find("арыз жазылды") != std::string::npos);
    CHECK(p.body.find("Бескөл") != std::string::npos);
    CHECK(p.body.find("Айгүл Сапарова") != std::string::npos);
    CHECK(p.body.find("Болат Ержанов") != std::string::npos);
    CHECK(p.body.find("changed: outcome, advice") != std::string::npos);
    // The creation (seq 60 of the first device) and the edit, in local times.
    const auto at = [](std::int64_t seq) {
        return caravan::web::local_time(caravan::sync::server::iso_utc(k_day_ms + seq * 1000));
    };
    CHECK(p.body.find(at(60)) != std::string::npos);
    CHECK(p.body.find(at(k_edit_s)) != std::string::npos);
    CHECK(p.body.find(at(60)) < p.body.find(at(k_edit_s)));
    for (const auto* device : {&seeded.device_a, &seeded.device_a2}) {
        CHECK(p.body.find(device->id) == std::string::npos);
        CHECK(p.body.find(caravan::client::short_id(device->id)) == std::string::npos);
    }
    CHECK(p.body.find(std::to_string(((k_day_ms + k_edit_s * 1000) << 16) | 1)) ==
          std::string::npos);
    CHECK(s.count("SELECT count(*) FROM audit_log WHERE action = 'record_viewed' AND account = "
                  "'aigerim' AND detail = 'id=" +
                  seeded.edited + "'") == 1);
    // The audit log holds no text of the consultation.
    CHECK(s.count("SELECT count(*) FROM audit_log WHERE detail LIKE '%арыз%'") == 0);
    // In Kazakh.
    b.set_cookie("caravan_lang", "kk");
    const Page kk = b.get("/record?id=" + seeded.edited);
    CHECK(kk.body.find("Тарихы") != std::string::npos);
    CHECK(kk.body.find("құжат дайындалды") != std::string::npos);
    // A deleted or unknown id: 404.
    CHECK(b.get("/record?id=0190f0e0-0000-7000-8000-000000000000").status == 404);
    CHECK(b.get("/record").status == 404);
}

TEST_CASE("dashboard: record browser: a viewer gets 403 on the list and on a record, never a text",
          "[dashboard]") {
    DashboardServer s;
    const Seeded seeded = seed(s);
    s.add_account("auditor", AccountRole::viewer);
    Browser b = logged_in(s, "auditor");
    for (const std::string& path :
         std::vector<std::string>{"/records", "/records?q=" + caravan::web::url_encode("жер"),
                                  "/record?id=" + seeded.a_ids[56]}) {
        const Page p = b.get(path);
        CHECK(p.status == 403);
        CHECK(p.body.find("ЖЕР") == std::string::npos);
        CHECK(p.body.find("Құпия") == std::string::npos);
        CHECK(p.body.find("Бескөл") == std::string::npos);
    }
    CHECK(b.get("/devices").body.find("href=\"/records\"") == std::string::npos);
    CHECK(s.audit_count("record_viewed") == 0);
}

TEST_CASE("dashboard: record browser: a region's coordinator sees its region only, another region's "
          "record is 404 with nothing of it shown",
          "[dashboard]") {
    DashboardServer s;
    const Seeded seeded = seed(s);
    s.add_account("west", AccountRole::coordinator, {k_region_a});
    Browser b = logged_in(s, "west");
    const Page list = b.get("/records");
    REQUIRE(list.status == 200);
    CHECK(listed(list).size() == 50);
    CHECK(list.body.find(seeded.b_id) == std::string::npos);
    CHECK(b.get("/records?region=" + caravan::web::url_encode(k_region_b)).status == 403);
    const Page other = b.get("/record?id=" + seeded.b_id);
    CHECK(other.status == 404);
    CHECK(other.body.find("B аймағының") == std::string::npos);
    CHECK(other.body.find("Шоқан") == std::string::npos);
    CHECK(s.audit_count("record_viewed") == 0);
    CHECK(b.get("/record?id=" + seeded.a_ids[0]).status == 200);
}

TEST_CASE("dashboard: record page: the vulnerable flag reads yes, no or not recorded in kk, ru and en",
          "[dashboard]") {
    DashboardServer s;
    server::Http http(s.port());
    const server::Device device = s.api().enroll({k_region_a});
    server::Events ev(device.id);
    const std::string village = server::new_id(), visit = server::new_id();
    std::vector<caravan::storage::Event> events{ev.self("Айгүл", k_region_a),
                                                ev.village(village, "Ақсу", k_region_a),
                                                ev.visit(visit, village)};
    const std::pair<json, std::string> flags[] = {{true, "yes"}, {false, "no"}, {nullptr, "none"}};
    std::map<std::string, std::string> ids; // "yes", "no", "none" -> consultation
    for (const auto& [flag, name] : flags) {
        json fields = consultation_fields(visit, "land", "advice", "сұрақ");
        fields["vulnerable"] = flag;
        ids[name] = server::new_id();
        events.push_back(ev.make("consultation", ids[name], fields));
    }
    REQUIRE(http.push(device.token, server::batch(device.id, events)).status == 200);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
    REQUIRE(s.count("SELECT count(*) FROM consultations WHERE vulnerable IS NULL") == 1);
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b = logged_in(s, "aigerim");
    const std::map<std::string, std::map<std::string, std::string>> expected{
        {"en", {{"yes", "yes"}, {"no", "no"}, {"none", "not recorded"}}},
        {"ru", {{"yes", "да"}, {"no", "нет"}, {"none", "не указано"}}},
        {"kk", {{"yes", "иә"}, {"no", "жоқ"}, {"none", "көрсетілмеген"}}},
    };
    const std::map<std::string, std::string> label{{"en", "vulnerable group"},
                                                   {"ru", "социально уязвимая группа"},
                                                   {"kk", "әлеуметтік осал топ"}};
    for (const auto& [lang, values] : expected) {
        b.set_cookie("caravan_lang", lang);
        for (const auto& [name, text] : values) {
            INFO(lang << " " << name);
            const Page p = b.get("/record?id=" + ids.at(name));
            REQUIRE(p.status == 200);
            CHECK(p.body.find("<th scope=\"row\">" + label.at(lang) +
                              "</th><td data-field=\"vulnerable\">" + text + "</td>") !=
                  std::string::npos);
        }
    }
}
