// The coordinator's dashboard on a large server (issue 13): a store of N events (default
// 1,000,000: a generated programme of lawyers in four regions, villages, visits over two years,
// consultations and attendance) served by a real `caravan-server serve` process. Prints:
//   - each dashboard page's time as the coordinator's browser sees it (logged in through the
//     real login form, the session cookie on every request): cold (the first request after a
//     device's push) and warm (`runs` requests over the unchanged store, p50 and max);
//   - the journal download (every region, every date, CSV and XLSX): time, time to the first
//     byte, bytes, and the server's peak resident set during it next to its resident set before;
//   - a device's sync (push 50 events, pull after its cursor, status) alone, then while a
//     thread hammers the dashboard's pages: p50 and max of each.
// The load average is printed at the start and the end: the machine is shared.
//
// usage: dashboard_bench [events=1000000] [runs=5] [lawyers=20] [dir] [conflicts=20000]
//   dir: keep the store in DIR/data (and reuse it when it is there) instead of a scratch
//   directory removed at the end, e.g. to look at its query plans afterwards ("" for none).
//   conflicts: after the programme, a second device of the first region edits the question of
//   that many consultations without having seen them: one conflict each (the conflicts page).
// Prints figures; asserts nothing (docs/performance.md records a run).

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/ids.hpp"
#include "caravan/sync/protocol.hpp"
#include "caravan/sync/server/accounts.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "caravan/sync/server/store.hpp"
#include "server_process.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;
using nlohmann::json;
namespace srv = caravan::sync::server;
namespace fs = std::filesystem;

namespace {

const std::string k_account = "bench";
// A coordinator of the first region only (the conflicts page reads each conflict's region).
const std::string k_region_account = "bench-region";
const std::string k_password = "bench password for the dashboard";
const std::vector<std::string> k_regions = {"Ақтөбе обл.", "Жамбыл обл.", "Абай обл.",
                                            "Алматы обл."};
// The region of the device whose sync is timed: none of the generated records are in it, so
// its pulls bring back nothing of theirs; its cursor moves on after its first sync, as a real
// device's does.
const std::string k_device_region = "Ұлытау обл.";

// The pages timed, as GET paths (add a page here to time it too). POST /indicators with the
// example plan is timed separately: it needs the page's CSRF token.
// The record browser's word searches: a word in one consultation in 710 ("құдық", a well: the
// text index's case), a word in about one in five ("жер": more than 2,000 candidates, read in
// order) and words in none ("нет такого": without the index, every row is read).
const std::vector<std::string> k_pages = {
    "/devices",
    "/activity",
    "/breakdowns",
    "/indicators",
    "/journals",
    "/records",
    "/records?q=%D2%9B%D2%B1%D0%B4%D1%8B%D2%9B",
    "/records?q=%D0%B6%D0%B5%D1%80",
    "/records?q=%D0%BD%D0%B5%D1%82%20%D1%82%D0%B0%D0%BA%D0%BE%D0%B3%D0%BE",
    // A topic and an outcome (one consultation in about 14 has both), one village ("Ауыл 3-7":
    // one in 400) and a topic no consultation has ("tax": every row is read): rows the filters
    // skip are read too.
    "/records?topic=health&outcome=case",
    "/records?village=%D0%90%D1%83%D1%8B%D0%BB%203-7",
    "/records?topic=tax",
    "/conflicts"};
// How many "next page" links of the unfiltered record browser are followed and timed.
constexpr int k_record_pages = 20;

// ---- the generated programme -----------------------------------------------------------------

constexpr std::int64_t k_base_ms = 1704067200000; // 2024-01-01T00:00:00Z

std::string id_at(std::int64_t ms) { return client::uuid_v7(ms); }

std::string date_of(int day) {
    using namespace std::chrono;
    const year_month_day d{sys_days{year{2024} / January / 1} + days{day}};
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02u-%02u", static_cast<int>(d.year()),
                  static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
    return text;
}

template <std::size_t N> const char* pick(const char* const (&values)[N], std::uint64_t i) {
    return values[i % N];
}

// One lawyer's events, in order: the device, its villages, then visits with their attendance
// and consultations, dated over two years.
class Lawyer {
  public:
    Lawyer(int index, std::string device_id, std::int64_t events)
        : m_index(index), m_device(std::move(device_id)), m_name("Заңгер " + std::to_string(index)),
          m_region(k_regions[static_cast<std::size_t>(index) % k_regions.size()]),
          m_target(events) {}

    [[nodiscard]] bool done() const { return m_seq >= m_target; }

    // Keeps the ids of the consultations made, up to `n` in all, in `ids`.
    void keep_ids(std::vector<std::string>& ids, std::size_t n) {
        m_kept = &ids;
        m_keep_max = n;
    }

    std::vector<storage::Event> batch(std::size_t n) {
        std::vector<storage::Event> out;
        while (out.size() < n && !done()) {
            out.push_back(next());
        }
        return out;
    }

  private:
    static constexpr int k_villages = 20;
    static constexpr int k_per_visit = 100; // events per visit: the visit, 30 attendance, 69 consultations

    storage::Event next() {
        const std::int64_t i = m_seq; // events made so far
        if (i == 0) {
            return make("device", m_device,
                        {{"lawyer", m_name}, {"region", m_region}, {"deleted", false}});
        }
        if (i <= k_villages) {
            m_villages.push_back(new_id());
            return make("village", m_villages.back(),
                        {{"name", "Ауыл " + std::to_string(m_index) + "-" + std::to_string(i)},
                         {"region", m_region},
                         {"deleted", false}});
        }
        const std::int64_t k = (i - k_villages - 1) % k_per_visit;
        if (k == 0) {
            const std::int64_t visits = std::max<std::int64_t>(1, m_target / k_per_visit);
            const int day = static_cast<int>((m_visit_count * 730) / visits) % 730;
            m_visit = new_id();
            const std::string village =
                m_villages[static_cast<std::size_t>(m_visit_count % k_villages)];
            ++m_visit_count;
            return make("visit", m_visit,
                        {{"village_id", village},
                         {"date", date_of(day)},
                         {"lawyer", m_name},
                         {"closed", true},
                         {"deleted", false}});
        }
        static const char* const genders[] = {"female", "male", "female", "unrecorded"};
        static const char* const ages[] = {"17-22", "23-27", "28-32", "33-45",
                                           "46-58", "59+",   "unrecorded"};
        static const char* const categories[] = {"unemployed", "older",     "youth",
                                                 "disability", "civil-servant", "other",
                                                 "unrecorded"};
        const auto u = static_cast<std::uint64_t>(i);
        json vulnerable = u % 5 == 0 ? json(nullptr) : json(u % 3 == 0);
        if (k <= 30) {
            return make("attendance", new_id(),
                        {{"visit_id", m_visit},
                         {"gender", pick(genders, u)},
                         {"age", pick(ages, u / 2)},
                         {"category", pick(categories, u / 3)},
                         {"vulnerable", vulnerable},
                         {"count", static_cast<std::int64_t>(1 + u % 4)},
                         {"deleted", false}});
        }
        static const char* const topics[] = {"land",   "family", "inheritance", "benefits",
                                             "credit", "housing", "health"};
        static const char* const outcomes[] = {"advice", "referred", "document", "case"};
        client::ConsultationInput sample = sample_consultation(u);
        if (u % 1000 == 0) {
            sample.question = "Құдық иесімен дау"; // the rare word of the word searches
        }
        const std::string id = new_id();
        if (m_kept && m_kept->size() < m_keep_max) {
            m_kept->push_back(id);
        }
        return make("consultation", id,
                    {{"visit_id", m_visit},
                     {"lawyer", m_name},
                     {"gender", pick(genders, u)},
                     {"age", pick(ages, u / 2)},
                     {"category", pick(categories, u / 3)},
                     {"vulnerable", vulnerable},
                     {"topics", json::array({pick(topics, u), pick(topics, u / 7 + 1)})},
                     {"outcome", pick(outcomes, u / 5)},
                     {"question", sample.question},
                     {"advice", sample.advice},
                     {"follow_up", u % 4 == 0},
                     {"lang", u % 2 == 0 ? "kk" : "ru"},
                     {"deleted", false}});
    }

    std::string new_id() { return id_at(k_base_ms + m_index * 100'000'000LL + m_seq); }

    storage::Event make(std::string_view type, std::string entity, json fields) {
        storage::Event e;
        e.device_id = m_device;
        e.seq = ++m_seq;
        e.hlc = (k_base_ms + m_index * 100'000'000LL + m_seq) << 16;
        e.entity_type = std::string(type);
        e.entity_id = std::move(entity);
        e.op = "create";
        e.payload = sync::canonical_payload(json{{"fields", std::move(fields)}});
        e.schema_version = 1;
        return e;
    }

    int m_index;
    std::string m_device, m_name, m_region;
    std::int64_t m_target;
    std::int64_t m_seq = 0;
    std::int64_t m_visit_count = 0;
    std::vector<std::string> m_villages;
    std::string m_visit;
    std::vector<std::string>* m_kept = nullptr;
    std::size_t m_keep_max = 0;
};

// Writes the programme into DATA/server.db through the store's own push (each batch one
// transaction, as a device's push is), plus the coordinator's account.
// A device of the first region that edits the question of each of `ids` without a base (it
// never saw them): each edit conflicts with the consultation's create.
std::int64_t make_conflicts(srv::Store& store, const std::vector<std::string>& ids) {
    const std::string code = must(
        store.registry().create_code({"Заңгер конфликт", {k_regions[0]}, srv::Role::lawyer, 72}),
        "code");
    const std::string device_id = id_at(k_base_ms - 2000);
    auto enrolled = store.registry().enroll(code, device_id, {});
    if (!enrolled) {
        std::fprintf(stderr, "enroll failed\n");
        std::exit(1);
    }
    std::vector<storage::Event> events;
    const auto event = [&](std::string_view type, const std::string& id, const std::string& op,
                           json fields) {
        storage::Event e;
        e.device_id = device_id;
        e.seq = static_cast<std::int64_t>(events.size()) + 1;
        e.hlc = (k_base_ms + 4'000'000'000LL + e.seq) << 16;
        e.entity_type = std::string(type);
        e.entity_id = id;
        e.op = op;
        e.payload = sync::canonical_payload(json{{"fields", std::move(fields)}});
        e.schema_version = 1;
        events.push_back(std::move(e));
    };
    event("device", device_id, "create",
          {{"lawyer", "Заңгер конфликт"}, {"region", k_regions[0]}, {"deleted", false}});
    for (const std::string& id : ids) {
        event("consultation", id, "update", {{"question", "Басқа сұрақ"}});
    }
    for (std::size_t from = 0; from < events.size(); from += sync::Limits::max_events_per_push) {
        const auto to = std::min(events.size(), from + sync::Limits::max_events_per_push);
        sync::PushRequest request{device_id,
                                  {events.begin() + static_cast<std::ptrdiff_t>(from),
                                   events.begin() + static_cast<std::ptrdiff_t>(to)}};
        auto answer = store.feed().push(enrolled->device, request, {});
        if (!answer) {
            std::fprintf(stderr, "push failed: %s\n", answer.error().code.c_str());
            std::exit(1);
        }
    }
    return static_cast<std::int64_t>(events.size());
}

void generate(const fs::path& data, std::int64_t events, int lawyers, std::size_t conflicts) {
    fs::create_directories(data);
    fs::permissions(data, fs::perms::owner_all);
    auto store = must(srv::Store::open(srv::database_path(data)), "open the store");
    srv::Accounts accounts(store->accounts(), [&] { return store->now_ms(); });
    must(accounts.add(k_account, srv::AccountRole::coordinator, {}, k_password), "account");
    must(accounts.add(k_region_account, srv::AccountRole::coordinator, {k_regions[0]}, k_password),
         "account");
    const double t0 = now_s();
    std::int64_t pushed = 0;
    std::vector<std::string> conflicted; // consultations of the first region
    for (int l = 0; l < lawyers; ++l) {
        const std::string region = k_regions[static_cast<std::size_t>(l) % k_regions.size()];
        const std::string code = must(store->registry().create_code(
                                          {"Заңгер " + std::to_string(l), {region},
                                           srv::Role::lawyer, 72}),
                                      "code");
        const std::string device_id = id_at(k_base_ms - 1000 + l);
        auto enrolled = store->registry().enroll(code, device_id, {});
        if (!enrolled) {
            std::fprintf(stderr, "enroll failed\n");
            std::exit(1);
        }
        Lawyer lawyer(l, device_id, events / lawyers);
        if (region == k_regions[0]) {
            lawyer.keep_ids(conflicted, conflicts);
        }
        while (!lawyer.done()) {
            sync::PushRequest request{device_id, lawyer.batch(sync::Limits::max_events_per_push)};
            auto answer = store->feed().push(enrolled->device, request, {});
            if (!answer) {
                std::fprintf(stderr, "push failed: %s\n", answer.error().code.c_str());
                std::exit(1);
            }
            pushed += static_cast<std::int64_t>(request.events.size());
        }
    }
    pushed += make_conflicts(*store, conflicted);
    const double took = now_s() - t0;
    print_row("conflicts", std::to_string(conflicted.size()) + " (edits without a base)");
    print_row("store generated", std::to_string(pushed) + " events by " +
                                     std::to_string(lawyers) + " lawyers in " + fmt(took, 1) +
                                     " s (" + fmt(static_cast<double>(pushed) / took, 0) +
                                     " events/s)");
    print_row("server.db size",
              fmt(static_cast<double>(fs::file_size(srv::database_path(data))) / 1048576.0, 0) +
                  " MiB");
}

// ---- the coordinator's browser ---------------------------------------------------------------

// A logged-in session: its cookie header and a page's CSRF token.
struct Session {
    std::string cookie;
    std::string csrf;
};

// The page's CSRF token (its first hidden csrf field), empty when none.
std::string csrf_in(const std::string& body) {
    static const std::regex field(R"re(name="csrf" value="([^"]*)")re");
    std::smatch m;
    return std::regex_search(body, m, field) ? m[1].str() : std::string();
}

// name=value of every Set-Cookie of `r`, joined as a Cookie header.
std::string cookies_of(const httplib::Response& r) {
    std::string out;
    auto [from, to] = r.headers.equal_range("Set-Cookie");
    for (auto it = from; it != to; ++it) {
        const std::string pair = it->second.substr(0, it->second.find(';'));
        if (pair.find('=') + 1 < pair.size()) {
            out += (out.empty() ? "" : "; ") + pair;
        }
    }
    return out;
}

Session login(int port, const std::string& account = k_account) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    const std::string origin = "http://127.0.0.1:" + std::to_string(port);
    auto form = c.Get("/login");
    if (!form || form->status != 200) {
        throw std::runtime_error("GET /login failed");
    }
    auto r = c.Post("/login", {{"Cookie", cookies_of(*form)}, {"Origin", origin}},
                    httplib::Params{{"csrf", csrf_in(form->body)},
                                    {"name", account},
                                    {"password", k_password}});
    if (!r || r->status != 303) {
        throw std::runtime_error("login failed (" + std::to_string(r ? r->status : 0) + ")");
    }
    Session s{cookies_of(*r), ""};
    auto page = c.Get("/indicators", {{"Cookie", s.cookie}});
    s.csrf = page ? csrf_in(page->body) : "";
    return s;
}

// Seconds of one GET (the body read and dropped), and its status and size.
struct Fetch {
    double seconds = 0;
    double first_byte = 0; // seconds until the body's first bytes arrived
    int status = 0;
    std::size_t bytes = 0;
};

Fetch get(httplib::Client& c, const std::string& path, const Session& s) {
    Fetch f;
    const double t0 = now_s();
    auto r = c.Get(path, {{"Cookie", s.cookie}}, [&](const char*, std::size_t n) {
        if (f.bytes == 0) {
            f.first_byte = now_s() - t0;
        }
        f.bytes += n;
        return true;
    });
    f.seconds = now_s() - t0;
    f.status = r ? r->status : 0;
    return f;
}

// The record browser's next pages: from /records, each page's "next page" link in turn, as the
// coordinator clicks it.
void time_record_pages(int port, const Session& s) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(600);
    static const std::regex next_link(R"re(href="(/records\?[^"]*)" id="next-page")re");
    std::string path = "/records";
    std::vector<double> ms;
    for (int i = 0; i <= k_record_pages; ++i) {
        const double t0 = now_s();
        auto r = c.Get(path, {{"Cookie", s.cookie}});
        if (i > 0) {
            ms.push_back((now_s() - t0) * 1000);
        }
        std::smatch m;
        if (!r || r->status != 200 || !std::regex_search(r->body, m, next_link)) {
            break;
        }
        path = std::regex_replace(m[1].str(), std::regex("&amp;"), "&");
    }
    if (ms.empty()) {
        print_row("GET /records, next pages", "no next page");
        return;
    }
    const Summary sum = summarize(ms);
    print_row("GET /records, next pages", std::to_string(ms.size()) + " pages followed: p50 " +
                                              fmt(sum.p50, 1) + " ms  max " + fmt(sum.max, 1) +
                                              " ms");
}

// The conflicts page for a coordinator of one region: every conflict's region is read.
void time_scoped_conflicts(int port, int runs) {
    const Session s = login(port, k_region_account);
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(600);
    std::vector<double> ms;
    Fetch last;
    for (int i = 0; i < runs; ++i) {
        last = get(c, "/conflicts", s);
        ms.push_back(last.seconds * 1000);
    }
    const Summary sum = summarize(ms);
    print_row("GET /conflicts (one region)", "p50 " + fmt(sum.p50, 1) + " ms  max " +
                                                 fmt(sum.max, 1) + " ms  (status " +
                                                 std::to_string(last.status) + ")");
}

// The journal of every region and date in `format` (csv: streamed as it is read; xlsx: built
// into a scratch file first, then sent).
void time_download(const ServerProcess& server, const Session& s, const std::string& format) {
    httplib::Client c("127.0.0.1", server.port());
    c.set_read_timeout(3600);
    const long before = server.kib("VmRSS");
    server.reset_peak();
    const Fetch f = get(c, "/journals/download?format=" + format, s);
    const long peak = server.kib("VmHWM");
    print_row("journal download (" + format + ", all)",
              fmt(f.seconds, 2) + " s, first byte after " + fmt(f.first_byte, 2) + " s, " +
                  fmt(static_cast<double>(f.bytes) / 1048576.0, 1) + " MiB (status " +
                  std::to_string(f.status) + ")");
    print_row("server resident set", "before " + std::to_string(before / 1024) +
                                         " MiB, peak during the download " +
                                         std::to_string(peak / 1024) + " MiB");
}

// ---- a device syncing ------------------------------------------------------------------------

struct Device {
    std::string id, token;
    std::int64_t seq = 0;
    std::int64_t cursor = 0; // the pull's next_after, as a device keeps it
};

Device enroll(const ServerProcess& server) {
    Device d{id_at(k_base_ms - 5000), "", 0};
    d.token = server.enroll(d.id, k_device_region);
    return d;
}

// One sync as the agent does it: push 50 events (the device itself first), pull a page after
// the device's cursor, status. Seconds, or -1 when a request failed.
double sync_round(int port, Device& d) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(60);
    httplib::Headers h{{"Authorization", "Bearer " + d.token}, {"X-Caravan-Protocol", "1"}};
    sync::PushRequest push{d.id, {}};
    while (push.events.size() < 50) {
        storage::Event e;
        e.device_id = d.id;
        e.seq = ++d.seq;
        e.hlc = (k_base_ms + 5'000'000'000LL + d.seq) << 16;
        e.schema_version = 1;
        e.op = "create";
        if (d.seq == 1) {
            e.entity_type = "device";
            e.entity_id = d.id;
            e.payload = sync::canonical_payload(json{
                {"fields", {{"lawyer", "Bench"}, {"region", k_device_region}, {"deleted", false}}}});
        } else {
            e.entity_type = "village";
            e.entity_id = id_at(k_base_ms + 5'000'000'000LL + d.seq);
            e.payload = sync::canonical_payload(json{
                {"fields", {{"name", "Ауыл " + std::to_string(d.seq)}, {"region", k_device_region}}}});
        }
        push.events.push_back(std::move(e));
    }
    const double t0 = now_s();
    auto pushed = c.Post("/v1/push", h, sync::to_json(push).dump(), "application/json");
    auto pulled = c.Get("/v1/pull?after=" + std::to_string(d.cursor) + "&limit=200", h);
    auto status = c.Get("/v1/status", h);
    const bool ok = pushed && pushed->status == 200 && pulled && pulled->status == 200 &&
                    status && status->status == 200;
    const double seconds = now_s() - t0;
    if (ok) {
        // The cursor moves on as a device's does (the first sync walks the whole feed).
        const json page = json::parse(pulled->body, nullptr, false);
        if (page.is_object() && page.contains("next_after") && page["next_after"].is_number()) {
            d.cursor = page["next_after"].get<std::int64_t>();
        }
    }
    return ok ? seconds : -1;
}

// Each page cold (the first request after a device's push moved the store on, so nothing
// the dashboard kept in memory answers it) and warm (`runs` requests over the unchanged store).
// The CPU time every thread of process `pid` has run, in ms (the first field of each task's
// schedstat, in ns): a page's server CPU is the difference across its request, a figure the
// machine's other load does not inflate as it does the wall time.
double cpu_ms_of(pid_t pid) {
    double ns = 0;
    std::error_code ec;
    for (const auto& task :
         fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::ifstream in(task.path() / "schedstat");
        double run_ns = 0;
        if (in >> run_ns) {
            ns += run_ns;
        }
    }
    return ns / 1e6;
}

void time_pages(int port, pid_t server_pid, const Session& s, int runs, Device& d) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(600);
    const auto row = [](const std::string& what, double cold_ms, double cold_cpu_ms,
                        const std::vector<double>& ms, int status, const std::string& size) {
        const Summary sum = summarize(ms);
        print_row(what, "cold " + fmt(cold_ms, 1) + " ms (server CPU " + fmt(cold_cpu_ms, 1) +
                            " ms), warm p50 " + fmt(sum.p50, 1) + " ms  max " +
                            fmt(sum.max, 1) + " ms  (status " + std::to_string(status) + size +
                            ")");
    };
    for (const std::string& path : k_pages) {
        (void)sync_round(port, d);
        const double cpu0 = cpu_ms_of(server_pid);
        const Fetch cold = get(c, path, s);
        const double cold_cpu = cpu_ms_of(server_pid) - cpu0;
        std::vector<double> ms;
        Fetch last = cold;
        for (int i = 0; i < runs; ++i) {
            last = get(c, path, s);
            ms.push_back(last.seconds * 1000);
        }
        row("GET " + path, cold.seconds * 1000, cold_cpu, ms, last.status,
            ", " + std::to_string(last.bytes / 1024) + " KiB");
    }
    std::ifstream in(std::string(CARAVAN_SOURCE_DIR) + "/docs/examples/plan-2024.json");
    const std::string plan((std::istreambuf_iterator<char>(in)), {});
    const auto post = [&] {
        const double t0 = now_s();
        auto r = c.Post("/indicators",
                        {{"Cookie", s.cookie}, {"Origin", "http://127.0.0.1:" + std::to_string(port)}},
                        httplib::Params{{"csrf", s.csrf}, {"plan_text", plan}});
        return std::pair{(now_s() - t0) * 1000, r ? r->status : 0};
    };
    (void)sync_round(port, d);
    const double cpu0 = cpu_ms_of(server_pid);
    const auto [cold_ms, cold_status] = post();
    const double cold_cpu = cpu_ms_of(server_pid) - cpu0;
    std::vector<double> ms;
    int status = cold_status;
    for (int i = 0; i < runs; ++i) {
        const auto [took, st] = post();
        ms.push_back(took);
        status = st;
    }
    row("POST /indicators (plan-2024)", cold_ms, cold_cpu, ms, status, "");
}

// `rounds` syncs, one a second (the pause not counted), so that under load each overlaps the
// pages being computed rather than finishing between two of them.
std::string sync_figures(int port, Device& d, int rounds) {
    std::vector<double> ms;
    int failed = 0;
    for (int i = 0; i < rounds; ++i) {
        if (i > 0) {
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        const double s = sync_round(port, d);
        if (s < 0) {
            ++failed;
        } else {
            ms.push_back(s * 1000);
        }
    }
    if (ms.empty()) {
        return "every sync failed";
    }
    const Summary sum = summarize(ms);
    return "p50 " + fmt(sum.p50, 1) + " ms  max " + fmt(sum.max, 1) + " ms  (" +
           std::to_string(ms.size()) + " syncs" +
           (failed ? ", " + std::to_string(failed) + " failed" : std::string()) + ")";
}

void time_sync(const ServerProcess& server, const Session& s, int rounds, Device& d) {
    print_row("device sync, dashboard idle", sync_figures(server.port(), d, rounds));

    std::atomic<bool> stop{false};
    std::atomic<long> pages{0};
    std::thread hammer([&] {
        httplib::Client c("127.0.0.1", server.port());
        c.set_read_timeout(600);
        for (std::size_t i = 0; !stop; ++i) {
            (void)get(c, k_pages[i % k_pages.size()], s);
            ++pages;
        }
    });
    // The syncs start once the hammer is in full swing (its first page served).
    for (int i = 0; i < 60000 && pages.load() == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const long pages_before = pages.load();
    const double t0 = now_s();
    const std::string loaded = sync_figures(server.port(), d, rounds);
    const double took = now_s() - t0;
    stop = true;
    hammer.join();
    print_row("device sync, dashboard hammered", loaded);
    print_row("pages served meanwhile", std::to_string(pages.load() - pages_before) + " in " +
                                            fmt(took, 1) + " s (one client, back to back)");
}

} // namespace

int main(int argc, char** argv) {
    const std::int64_t events = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
    const int runs = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
    const int lawyers = argc > 3 ? std::max(1, std::atoi(argv[3])) : 20;
    const std::size_t conflicts =
        argc > 5 ? static_cast<std::size_t>(std::max(0, std::atoi(argv[5]))) : 20'000;
    ::signal(SIGPIPE, SIG_IGN);
    print_title("dashboard_bench: " + std::to_string(events) + " events, " +
                std::to_string(runs) + " runs per page");
    print_machine();
    ScratchDir scratch;
    const fs::path root = argc > 4 && *argv[4] ? fs::path(argv[4]) : scratch / "";
    if (fs::exists(srv::database_path(root / "data"))) {
        print_row("store", "reused " + srv::database_path(root / "data").string());
    } else {
        generate(root / "data", events, lawyers, conflicts);
    }
    ServerProcess server(root);
    try { // a failure stops the server on the way out (ServerProcess's destructor)
        print_row("server resident set after start",
                  std::to_string(server.kib("VmRSS") / 1024) + " MiB");
        const Session session = login(server.port());
        Device device = enroll(server);
        (void)sync_round(server.port(), device); // the first sync: the device record itself
        time_pages(server.port(), server.pid(), session, runs, device);
        time_record_pages(server.port(), session);
        time_scoped_conflicts(server.port(), runs);
        time_download(server, session, "csv");
        time_download(server, session, "xlsx");
        time_sync(server, session, std::max(10, runs * 4), device);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dashboard_bench: %s\n", e.what());
        return 1;
    }
    print_load();
    return 0;
}
