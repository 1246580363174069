// What a hostile device or a careless operator can no longer do to the server: store text that
// drives a terminal, read query values back out of an export error, or keep the data directory
// open to other users.
#include "server_test_support.hpp"

#include <sys/stat.h>

using namespace caravan;
using namespace caravan::test::server;

namespace {

unsigned mode_of(const std::filesystem::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

} // namespace

TEST_CASE_METHOD(OneDevice,
                 "server push: text with a terminal escape or a direction override is refused per "
                 "event, naming the field, and the rest flows on",
                 "[server][text]") {
    std::string village = new_id(), visit = new_id();
    std::vector<storage::Event> events = {ev.self("Test Lawyer", k_region_a),
                                          ev.village(village, "Қызылжар", k_region_a),
                                          ev.visit(visit, village)};
    events.push_back(ev.consultation(new_id(), visit, "female", "жер \x1b]0;owned\x07 дауы"));
    events.push_back(ev.consultation(new_id(), visit, "female", "жер \xe2\x80\xae дауы"));
    events.push_back(ev.consultation(new_id(), visit, "female", "жер \xc2\x9b" "2J дауы"));
    events.push_back(ev.village(new_id(), "Ауыл\x1b[8m", k_region_a));
    events.push_back(ev.consultation(new_id(), visit, "female", "Бірінші жол\r\nекінші\tжол"));
    auto r = ok_push(http.push(d.token, batch(d.id, events)));
    CHECK(r.acked_seq == 8);
    REQUIRE(r.results.size() == 8);
    for (int i : {3, 4, 5, 6}) {
        INFO("event " << i << ": " << r.results[i].message);
        CHECK(r.results[i].fate == sync::EventFate::rejected);
        CHECK(r.results[i].code == "invalid_event");
        CHECK(r.results[i].message.find(i == 6 ? "name" : "question") != std::string::npos);
        CHECK(r.results[i].message.find("owned") == std::string::npos);
        CHECK(r.results[i].message.find('\x1b') == std::string::npos);
    }
    CHECK(r.results[7].fate == sync::EventFate::accepted);
    CHECK(server.count("SELECT count(*) FROM consultations") == 1);
    CHECK(server.count("SELECT count(*) FROM villages") == 1);
}

TEST_CASE("server export: a bad parameter is named, its value never echoed", "[server][export]") {
    TestServer server;
    Device coordinator = server.enroll({k_region_a}, srv::Role::coordinator);
    Http http(server.port());
    struct Case {
        std::string query;
        std::string names;
        std::vector<std::string> never;
    };
    const std::vector<Case> cases = {
        {"from=2024-13-45", "from", {"2024-13-45"}},
        {"to=2024-02-30", "to", {"2024-02-30"}},
        {"from=x%3Cscript%3E", "from", {"<script>", "x<"}},
        {"from=2024-06-01&to=2024-05-01", "from/to", {"2024-06-01", "2024-05-01"}},
        {"format=exe%1b%5b2J", "format", {"exe", "\x1b"}},
        {"lang=zz-secret", "lang", {"zz-secret"}},
        {"region=%D0%96%D0%B5%D1%80secret%1b", "region", {"secret", "\x1b"}},
    };
    for (const Case& c : cases) {
        for (const std::string route : {"/v1/export/journal", "/v1/export/breakdown"}) {
            Reply r = http.get(route + "?" + c.query, coordinator.token);
            INFO(route << "?" << c.query << " -> " << r.status << " " << r.raw);
            CHECK(r.status / 100 == 4);
            CHECK(r.raw.find(c.names) != std::string::npos);
            for (const std::string& value : c.never) {
                CHECK(r.raw.find(value) == std::string::npos);
            }
        }
    }
}

TEST_CASE("server: an existing data directory open to other users is tightened to 0700 on "
          "start, and the log says so",
          "[server]") {
    TestServer server;
    server.stop();
    REQUIRE(::chmod(server.data_dir().c_str(), 0755) == 0);
    server.start();
    CHECK(mode_of(server.data_dir()) == 0700);
    bool said = false;
    for (const std::string& line : server.log_lines()) {
        said = said || (line.find("0755") != std::string::npos &&
                         line.find("tightened to 0700") != std::string::npos &&
                         line.find(server.data_dir().string()) != std::string::npos);
    }
    CHECK(said);
    // A private directory is left as it is, silently.
    server.stop();
    const auto lines = server.log_lines().size();
    server.start();
    CHECK(mode_of(server.data_dir()) == 0700);
    for (std::size_t i = lines; i < server.log_lines().size(); ++i) {
        CHECK(server.log_lines()[i].find("tightened") == std::string::npos);
    }
}
