// Generates a year of caravan records shaped like the 2024 grant report, recorded through the
// Engine on five device databases (one per lawyer), and prints on stdout, as one JSON document,
// the figures it put in, for tests to compare with the computed indicators and breakdowns.
//
//   gen_year --out DIR [--seed N]
//
// Shape (report «Құқығыңды білу міндет», 2024): 4 regions, 72 villages, one visit each between
// January and August, 5 lawyers (the fifth travels to two regions and adds villages the home
// lawyer also added: the same village id converges), 1,360 participants with breakdowns,
// 125 people whose case was taken on, 10 photos per visit (720, distinct small files),
// surveys giving 95 % satisfaction. Three visits record no attendance (their consultations
// count as participants); some breakdown fields are "unrecorded"; some consultations are edited
// (to a case) or deleted after the fact. One more visit in September lies outside the plan's
// period. Random choices come from mt19937_64 with the given seed, used through plain integer
// arithmetic, so a seed gives the same figures on every platform.

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"

using caravan::Result;
using namespace caravan::client;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const char* const k_regions[] = {"Ақтөбе обл.", "Абай обл.", "Жамбыл обл.", "Ақмола обл."};
const int k_villages_per_region[] = {20, 18, 18, 16}; // 72
const char* const k_lawyers[] = {"Берікқожа Серікбол", "Ұлтанбаев Арнат", "Бекболатов Ардан",
                                 "Өмірбеков Данияр", "Жусипов Марат"};
const char* const k_village_names[] = {"Қызылжар", "Ақжар",   "Бескөл",    "Жаңаталап", "Қарабұлақ",
                                       "Көктерек", "Алғабас", "Ақсу",      "Талдыкөл",  "Шұбаркөл",
                                       "Жаңаауыл", "Құмкөл",  "Сарыбұлақ", "Қоскөл",    "Ынтымақ",
                                       "Бірлік",   "Жамбыл",  "Қаратал",   "Тасөткел",  "Байтерек"};

constexpr int k_visits = 72;
constexpr int k_participants = 1360;
constexpr int k_cases = 125;
constexpr int k_satisfied = 1292; // 95.0 % of 1,360 respondents
constexpr int k_photos_per_visit = 10;
constexpr int k_no_attendance_visits[] = {7, 30, 55}; // visit indexes

const char* const k_genders[] = {"female", "male"};
const char* const k_ages[] = {"13-16", "17-22", "23-27", "28-32", "33-45", "46-58", "59+"};
const char* const k_categories[] = {"children",   "youth", "civil-servant", "public-sector",
                                    "disability", "older", "unemployed",    "ngo",
                                    "business",   "other"};
const char* const k_topics[] = {"land",     "housing", "family",      "inheritance",
                                "labour",   "civil",   "enforcement", "health",
                                "benefits", "credit",  "collectors",  "domestic-violence",
                                "e-gov"};

class Random {
  public:
    explicit Random(std::uint64_t seed) : m_engine(seed) {}
    int below(int n) { return static_cast<int>(m_engine() % static_cast<std::uint64_t>(n)); }
    bool chance(int percent) { return below(100) < percent; }
    template <size_t N> const char* pick(const char* const (&values)[N]) {
        return values[below(static_cast<int>(N))];
    }

  private:
    std::mt19937_64 m_engine;
};

struct Tally {
    std::map<std::string, std::int64_t> gender, age, category, vulnerable;
    std::int64_t total = 0;
    void add(const PersonInput& p, std::int64_t n) {
        gender[p.gender] += n;
        age[p.age] += n;
        category[p.category] += n;
        vulnerable[!p.vulnerable ? "unrecorded" : *p.vulnerable ? "yes" : "no"] += n;
        total += n;
    }
    json to_json() const {
        return {{"gender", gender},
                {"age", age},
                {"category", category},
                {"vulnerable", vulnerable},
                {"total", total}};
    }
};

PersonInput person(Random& rng) {
    PersonInput p;
    p.gender = rng.chance(3) ? "unrecorded" : rng.pick(k_genders);
    p.age = rng.chance(2) ? "unrecorded" : rng.pick(k_ages);
    p.category = rng.chance(2) ? "unrecorded" : rng.pick(k_categories);
    p.vulnerable = rng.chance(65);
    return p;
}

template <class T> T must(Result<T> r, const char* what) {
    if (!r) {
        std::cerr << "gen_year: " << what << ": " << r.error().message << "\n";
        std::exit(1);
    }
    return std::move(*r);
}

void must(Result<void> r, const char* what) {
    if (!r) {
        std::cerr << "gen_year: " << what << ": " << r.error().message << "\n";
        std::exit(1);
    }
}

struct PlannedVisit {
    int lawyer = 0;
    int region = 0;
    std::string village;
    std::string date;
    int attendance = 0; // head count; 0: none recorded
    int consultations = 0;
    int cases = 0;
    int respondents = 0;
    int satisfied = 0;
    bool in_period = true;
};

} // namespace

int main(int argc, char** argv) {
    fs::path out;
    std::uint64_t seed = 2024;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string arg = argv[i];
        if (arg == "--out") {
            out = argv[i + 1];
        } else if (arg == "--seed") {
            seed = std::stoull(argv[i + 1]);
        }
    }
    if (out.empty()) {
        std::cerr << "usage: gen_year --out DIR [--seed N]\n";
        return 2;
    }
    fs::create_directories(out / "photos");
    Random rng(seed);

    // ---- plan the year: who visits which village when, and how many people come ----------
    std::vector<PlannedVisit> visits;
    for (int r = 0, v = 0; r < 4; ++r) {
        for (int k = 0; k < k_villages_per_region[r]; ++k, ++v) {
            PlannedVisit p;
            p.region = r;
            p.village = k_village_names[k];
            // The fifth lawyer takes the last four villages of Абай and Ақмола.
            p.lawyer = (r == 1 || r == 3) && k >= k_villages_per_region[r] - 4 ? 4 : r;
            int day = 10 + v * 231 / k_visits; // day of year, 10 January .. 28 August
            static const int k_month_start[] = {0, 31, 60, 91, 121, 152, 182, 213, 244};
            int month = 0;
            while (month < 8 && day >= k_month_start[month + 1]) {
                ++month;
            }
            char date[32];
            std::snprintf(date, sizeof date, "2024-%02d-%02d", month + 1,
                          day - k_month_start[month] + 1);
            p.date = date;
            visits.push_back(p);
        }
    }
    std::set<int> no_attendance(std::begin(k_no_attendance_visits),
                                std::end(k_no_attendance_visits));
    int from_consultations = 0;
    for (int v = 0; v < k_visits; ++v) {
        visits[v].consultations = 2 + rng.below(6); // 2..7
        if (no_attendance.count(v)) {
            from_consultations += visits[v].consultations;
        }
    }
    // Head counts: at least 10 per visit with attendance, the rest spread at random.
    int with_attendance = k_visits - static_cast<int>(no_attendance.size());
    int remaining = k_participants - from_consultations - 10 * with_attendance;
    for (int v = 0; v < k_visits; ++v) {
        if (!no_attendance.count(v)) {
            visits[v].attendance = 10;
        }
    }
    while (remaining > 0) {
        int v = rng.below(k_visits);
        if (!no_attendance.count(v)) {
            ++visits[v].attendance;
            --remaining;
        }
    }
    // Cases: exactly 125 over the consultations, never more than a visit holds.
    for (int left = k_cases; left > 0;) {
        int v = rng.below(k_visits);
        if (visits[v].cases < visits[v].consultations) {
            ++visits[v].cases;
            --left;
        }
    }
    // Surveys: every participant answers; 1,292 satisfied in all.
    int satisfied = 0;
    for (PlannedVisit& p : visits) {
        p.respondents = p.attendance > 0 ? p.attendance : p.consultations;
        p.satisfied = p.respondents * 9 / 10;
        satisfied += p.satisfied;
    }
    while (satisfied < k_satisfied) {
        PlannedVisit& p = visits[rng.below(k_visits)];
        if (p.satisfied < p.respondents) {
            ++p.satisfied;
            ++satisfied;
        }
    }
    // One visit after the plan's period (September), in a village already visited.
    PlannedVisit late;
    late.lawyer = 0;
    late.region = 0;
    late.village = k_village_names[0];
    late.date = "2024-09-15";
    late.attendance = 15;
    late.consultations = 2;
    late.cases = 1;
    late.respondents = 15;
    late.satisfied = 15;
    late.in_period = false;
    visits.push_back(late);

    // ---- record it, device by device ----------------------------------------------------
    Tally in_period, after_period;
    std::map<std::string, std::int64_t> region_participants;
    std::int64_t consultations = 0, cases = 0, photos = 0;
    std::map<std::string, std::int64_t> warnings = {{"visit_without_attendance", 0},
                                                    {"consultations_exceed_attendance", 0},
                                                    {"consultation_unrecorded", 0},
                                                    {"attendance_unrecorded", 0},
                                                    {"photos_below_plan", 0},
                                                    {"open_visit", 0},
                                                    {"unknown_visit", 0}};
    json devices = json::array();
    int photo_serial = 0;
    for (int d = 0; d < 5; ++d) {
        fs::path path = out / ("device-" + std::to_string(d + 1) + ".db");
        fs::remove(path);
        Engine engine = must(Engine::open(path), "open");
        const char* home = d < 4 ? k_regions[d] : "Астана қ.";
        must(engine.init(k_lawyers[d], home), "init");
        devices.push_back(path.string());
        // A device knows the villages of its region; the fifth lawyer adds the ones it visits.
        if (d < 4) {
            for (int k = 0; k < k_villages_per_region[d]; ++k) {
                must(engine.add_village({k_village_names[k], k_regions[d], std::nullopt,
                                         std::nullopt, std::nullopt}),
                     "village");
            }
        }
        for (PlannedVisit& p : visits) {
            if (p.lawyer != d) {
                continue;
            }
            if (d == 4) {
                must(engine.add_village({p.village, k_regions[p.region],
                                         std::string("Аудан ") + std::to_string(p.region + 1),
                                         std::nullopt, std::nullopt}),
                     "village");
            }
            Tally& tally = p.in_period ? in_period : after_period;
            // A name may exist in several regions: pick this region's village.
            std::string village_ref;
            for (const Village& v :
                 must(engine.list_villages(std::string(k_regions[p.region])), "villages")) {
                if (v.name == p.village) {
                    village_ref = v.id;
                }
            }
            must(engine.batch([&]() -> Result<void> {
                Visit visit = must(engine.start_visit(village_ref, p.date), "visit");
                std::set<std::string> unrecorded_attendance, unrecorded_consultations;
                // Attendance: the head count split into 1..4 entries.
                for (int left = p.attendance; left > 0;) {
                    int n = left <= 3 ? left : 1 + rng.below(left);
                    AttendanceInput a;
                    a.visit = visit.id;
                    a.person = person(rng);
                    a.count = n;
                    must(engine.add_attendance(a), "attendance");
                    tally.add(a.person, n);
                    if (p.in_period) {
                        region_participants[k_regions[p.region]] += n;
                    }
                    for (auto [field, value] : {std::pair{"gender", a.person.gender},
                                                {"age", a.person.age},
                                                {"category", a.person.category}}) {
                        if (value == "unrecorded") {
                            unrecorded_attendance.insert(field);
                        }
                    }
                    left -= n;
                }
                for (int c = 0; c < p.consultations; ++c) {
                    ConsultationInput in;
                    in.visit = visit.id;
                    in.person = person(rng);
                    in.topics = {rng.pick(k_topics)};
                    if (rng.chance(20)) {
                        in.topics.push_back(rng.pick(k_topics));
                    }
                    bool is_case = c < p.cases;
                    // Some cases are first recorded as advice and corrected later.
                    bool edited = is_case && rng.chance(15);
                    in.outcome = is_case && !edited ? "case"
                                 : rng.chance(50)   ? "advice"
                                                    : "referred";
                    in.question = "Сұрақ №" + std::to_string(c + 1) + ": жер телімі, «құжат»";
                    in.advice = "Кеңес, \"өтініш\" беру тәртібі";
                    in.follow_up = is_case;
                    in.lang = rng.chance(70) ? "kk" : "ru";
                    Consultation saved = must(engine.add_consultation(in), "consultation");
                    if (edited) {
                        ConsultationPatch patch;
                        patch.outcome = "case";
                        must(engine.edit_consultation(saved.id, patch), "edit");
                    }
                    if (p.attendance == 0) {
                        tally.add(in.person, 1);
                        if (p.in_period) {
                            region_participants[k_regions[p.region]] += 1;
                        }
                    }
                    for (auto [field, value] : {std::pair{"gender", in.person.gender},
                                                {"age", in.person.age},
                                                {"category", in.person.category}}) {
                        if (value == "unrecorded") {
                            unrecorded_consultations.insert(field);
                        }
                    }
                    if (p.in_period) {
                        ++consultations;
                        cases += is_case;
                    }
                }
                // A consultation recorded by mistake and deleted: never counted.
                if (rng.chance(25)) {
                    ConsultationInput wrong;
                    wrong.visit = visit.id;
                    wrong.person = person(rng);
                    wrong.topics = {"other"};
                    wrong.outcome = "case";
                    Consultation saved = must(engine.add_consultation(wrong), "consultation");
                    must(engine.remove_consultation(saved.id), "remove");
                }
                must(engine.add_survey({visit.id, p.respondents, p.satisfied}), "survey");
                PhotoInput photo_input;
                photo_input.visit = visit.id;
                photo_input.consent = true;
                for (int k = 0; k < k_photos_per_visit; ++k) {
                    fs::path file =
                        out / "photos" / ("photo-" + std::to_string(++photo_serial) + ".jpg");
                    std::ofstream(file, std::ios::binary)
                        << "caravan test photo " << photo_serial << "\n";
                    photo_input.files.push_back(file);
                }
                must(engine.add_photos(photo_input), "photos");
                if (p.in_period) {
                    photos += k_photos_per_visit;
                    warnings["visit_without_attendance"] += p.attendance == 0;
                    warnings["attendance_unrecorded"] +=
                        static_cast<std::int64_t>(unrecorded_attendance.size());
                    warnings["consultation_unrecorded"] +=
                        static_cast<std::int64_t>(unrecorded_consultations.size());
                }
                must(engine.close_visit(visit.id), "close");
                return {};
            }),
                 "batch");
        }
    }

    json expected = {
        {"devices", devices},
        {"period", {{"from", "2024-01-01"}, {"to", "2024-08-31"}}},
        {"villages", 72},
        {"visits", k_visits},
        {"participants", in_period.total},
        {"consultations", consultations},
        {"lawyers", 5},
        {"journals", 4},
        {"protected", cases},
        {"respondents", k_participants},
        {"satisfied", k_satisfied},
        {"photos", photos},
        {"breakdown", in_period.to_json()},
        {"regions", region_participants},
        {"warnings", warnings},
        {"after_period",
         {{"visits", 1}, {"participants", after_period.total}, {"photos", k_photos_per_visit}}},
    };
    std::cout << expected.dump(2) << "\n";
    return 0;
}
