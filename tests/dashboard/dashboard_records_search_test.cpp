// The record browser's word search on the server's text index (the device's FTS5 trigram index,
// client/model search_index.hpp, in server.db and in each PostgreSQL cache file): over generated
// consultations (texts in kk, ru and en with capitals, edits, deletes), every search gives
// exactly the rows, in exactly the order, that reading every row and keeping those whose
// question or advice holds the words gives; the index holds exactly the consultations' text
// after pushes, in a cache built afresh from the feed, and after a rebuild.

#include <random>

#include "caravan/client/export/records.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/transaction.hpp"
#include "caravan/web/page.hpp"
#include "dashboard_support.hpp"

using namespace caravan::test::dashboard;
using caravan::sync::server::AccountRole;
using nlohmann::json;
namespace server = caravan::test::server;
namespace ex = caravan::client::exports;
namespace search_index = caravan::client::search_index;

namespace {

const std::vector<std::string> k_questions = {
    "ЖЕР телімі туралы",
    "Пенсия по инвалидности",
    "Land plot \"boundary\" dispute",
    "Алимент өндіру",
    "Жерге құқық",
    "Мұра бойынша дау",
    "Социальная помощь",
    "Housing repair subsidy",
    "Сирек сөз: ҚҰДЫҚ иесі",
};
const std::vector<std::string> k_advices = {
    "Әкімдікке өтініш", "Обратиться в ЦОН", "Write to the akimat",
    "Сотқа талап арыз", "ЖЕР кадастры",     "Нотариусқа бару",
};

const std::vector<std::string> k_needles = {
    "жер",             // three letters, many rows and cases
    "ЖЕР ТЕЛ",         // across a space, any case
    "  пенсия   по  ", // spaces normalized
    "\"boundary\"",    // a quote inside the text
    "құдық",           // rare: a few rows
    "жерұйық",         // a village's name only: no row (the browser searches texts)
    "же",              // two letters: read row by row
    "zzz нет такого",  // nothing
};

// 400 consultations of region A in three villages over eight visits, from a fixed seed; a
// second device then edits the question of every 7th and deletes every 11th.
void seed(DashboardServer& s) {
    server::Http http(s.port());
    std::mt19937 rng(20241124);
    const server::Device a = s.api().enroll({k_region_a});
    server::Events ev(a.id);
    std::vector<caravan::storage::Event> events{ev.self("Айгүл", k_region_a)};
    std::vector<std::string> villages;
    for (const char* name : {"Ақсу", "Бескөл", "Жерұйық"}) {
        villages.push_back(server::new_id());
        events.push_back(ev.village(villages.back(), name, k_region_a));
    }
    std::vector<std::string> visits;
    for (int i = 0; i < 8; ++i) {
        visits.push_back(server::new_id());
        events.push_back(ev.make("visit", visits.back(),
                                 {{"village_id", villages[i % 3]},
                                  {"date", "2024-05-1" + std::to_string(i)},
                                  {"lawyer", "Айгүл"},
                                  {"closed", true},
                                  {"deleted", false}}));
    }
    std::vector<std::string> ids;
    for (int i = 0; i < 400; ++i) {
        ids.push_back(server::new_id());
        const std::string& visit = visits[rng() % visits.size()];
        const std::string& question = k_questions[rng() % k_questions.size()];
        const std::string& advice = k_advices[rng() % k_advices.size()];
        events.push_back(ev.make("consultation", ids.back(),
                                 {{"visit_id", visit},
                                  {"lawyer", "Айгүл"},
                                  {"gender", "female"},
                                  {"age", "33-45"},
                                  {"category", "unemployed"},
                                  {"vulnerable", false},
                                  {"topics", {"land"}},
                                  {"outcome", "advice"},
                                  {"question", question},
                                  {"advice", advice},
                                  {"follow_up", false},
                                  {"lang", "kk"},
                                  {"deleted", false}}));
    }
    for (std::size_t from = 0; from < events.size(); from += 200) {
        const std::vector<caravan::storage::Event> part(
            events.begin() + static_cast<std::ptrdiff_t>(from),
            events.begin() + static_cast<std::ptrdiff_t>(std::min(from + 200, events.size())));
        REQUIRE(http.push(a.token, server::batch(a.id, part)).status == 200);
    }
    const server::Device b = s.api().enroll({k_region_a});
    server::Events eb(b.id);
    std::vector<caravan::storage::Event> edits{eb.self("Болат", k_region_a)};
    std::int64_t second = 1000;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i % 7 == 0 || i % 11 == 0) {
            auto e =
                i % 11 == 0
                    ? eb.make("consultation", ids[i], {{"deleted", true}}, "delete")
                    : eb.make("consultation", ids[i],
                              {{"question", k_questions[(i / 7) % k_questions.size()]}}, "update");
            e.hlc = ((k_day_ms + ++second * 1000) << 16) | 1;
            edits.push_back(e);
        }
    }
    REQUIRE(http.push(b.token, server::batch(b.id, edits)).status == 200);
    REQUIRE(s.count("SELECT count(*) FROM rejected_events") == 0);
}

// Every page of find_records for `filter`, 50 a page.
std::vector<std::string> found(caravan::storage::Database& db, const ex::RecordFilter& filter) {
    std::vector<std::string> out;
    std::optional<ex::RecordCursor> after;
    do {
        auto page = ex::find_records(db, filter, after, 50);
        REQUIRE(page);
        for (const auto& r : page->rows) {
            out.push_back(r.id);
        }
        after = page->next;
    } while (after);
    return out;
}

// What reading every row and keeping those whose question or advice holds `text` (both
// folded) gives, in the browser's order.
std::vector<std::string> by_hand(caravan::storage::Database& db, const std::string& text) {
    const std::string needle = caravan::client::fold_case(caravan::client::normalize_space(text));
    std::vector<std::string> out;
    for (const std::string& id : found(db, {})) {
        auto r = ex::read_record(db, id);
        REQUIRE(r);
        REQUIRE(r->has_value());
        for (const std::string* t : {&(*r)->question, &(*r)->advice}) {
            if (caravan::client::fold_case(*t).find(needle) != std::string::npos) {
                out.push_back(id);
                break;
            }
        }
    }
    return out;
}

void same_as_by_hand(caravan::storage::Database& db) {
    for (const std::string& needle : k_needles) {
        INFO("words «" << needle << "»");
        ex::RecordFilter filter;
        filter.text = needle;
        CHECK(found(db, filter) == by_hand(db, needle));
    }
}

} // namespace

TEST_CASE("dashboard: record browser: a word search through the server's text index gives exactly the "
          "rows of reading every row",
          "[dashboard]") {
    DashboardServer s;
    seed(s);
    // A store of its own: on PostgreSQL its cache is built afresh from the feed.
    auto store = s.api().store();
    REQUIRE(store->refresh());
    auto& db = store->database();
    CHECK(search_index::present(db).value());
    CHECK(search_index::matches_table(db).value());
    same_as_by_hand(db);
    // Not vacuous: the index is used and the needles find what they should.
    CHECK(search_index::candidates(db, "құдық").value().has_value());
    ex::RecordFilter rare;
    rare.text = "құдық";
    const auto rare_rows = found(db, rare);
    CHECK(!rare_rows.empty());
    CHECK(rare_rows.size() < 100);
    ex::RecordFilter village;
    village.text = "жерұйық";
    CHECK(found(db, village).empty());
    ex::RecordFilter many;
    many.text = "жер";
    CHECK(found(db, many).size() > 100);

    // The page itself: the rare word's first page is the index's rows.
    s.add_account("aigerim", AccountRole::coordinator);
    Browser b(s.port());
    REQUIRE(b.login("aigerim").status == 303);
    const Page p = b.get("/records?q=" + caravan::web::url_encode("ҚҰДЫҚ"));
    REQUIRE(p.status == 200);
    for (const auto& id : rare_rows) {
        CHECK(p.body.find("<tr data-id=\"" + id + "\">") != std::string::npos);
    }

    // After a rebuild of the projections (as `check` does), the index still matches.
    {
        caravan::client::Projector projector(db);
        auto tx = caravan::storage::Transaction::begin(db);
        REQUIRE(tx);
        REQUIRE(caravan::client::rebuild_projections(db, projector));
        REQUIRE(tx->commit());
    }
    CHECK(search_index::matches_table(db).value());
    same_as_by_hand(db);
}
