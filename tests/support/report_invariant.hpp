#pragma once
// The invariant of reports over regions (docs/exports.md, "All regions = the sum of the
// regions"): on the JSON form of a breakdown or an indicator report (device or server: the same
// renderer), every additive figure for "all regions" equals the sum of the same figure over the
// regions. Figures that are not additive are checked by what does hold for them:
// - lawyers (distinct names; one lawyer may work in two regions): max over regions <= all <= sum;
// - satisfaction_percent and photos_per_visit (ratios): their numerator and denominator add up,
//   and the fact is the ratio of the summed parts;
// - share_percent of a breakdown row: recomputed from the row and table total of the same
//   report;
// - warnings about one visit are listed in exactly one region; the warnings that belong to no
//   region (unknown_visit, unknown_village) are the same in every report.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

namespace caravan::test {

inline void require_breakdown_adds_up(const nlohmann::json& all,
                                      const std::vector<nlohmann::json>& regions) {
    for (const char* key : {"participants", "visits", "visits_counted_by_consultations"}) {
        std::int64_t sum = 0;
        for (const auto& r : regions) {
            sum += r.at(key).get<std::int64_t>();
        }
        INFO("breakdown " << key);
        CHECK(all.at(key).get<std::int64_t>() == sum);
    }
    for (const auto& table : all.at("tables")) {
        const std::string code = table.at("code").get<std::string>();
        std::int64_t total_sum = 0;
        std::map<std::string, std::int64_t> row_sums;
        for (const auto& r : regions) {
            for (const auto& t : r.at("tables")) {
                if (t.at("code") != code) {
                    continue;
                }
                total_sum += t.at("total").get<std::int64_t>();
                for (const auto& row : t.at("rows")) {
                    row_sums[row.at("code").get<std::string>()] +=
                        row.at("participants").get<std::int64_t>();
                }
            }
        }
        INFO("breakdown table " << code);
        CHECK(table.at("total").get<std::int64_t>() == total_sum);
        const double total = table.at("total").get<double>();
        for (const auto& row : table.at("rows")) {
            const std::string row_code = row.at("code").get<std::string>();
            INFO("row " << row_code);
            CHECK(row.at("participants").get<std::int64_t>() == row_sums[row_code]);
            row_sums.erase(row_code);
            if (total > 0 && row.contains("share_percent") && row.at("share_percent").is_number()) {
                CHECK(std::abs(row.at("share_percent").get<double>() -
                               100.0 * row.at("participants").get<double>() / total) <= 0.051);
            }
        }
        for (const auto& [row_code, n] : row_sums) {
            INFO("row only in the regions: " << row_code);
            CHECK(n == 0);
        }
    }
}

inline const nlohmann::json& indicator_of(const nlohmann::json& report, const std::string& code) {
    for (const auto& i : report.at("indicators")) {
        if (i.at("code") == code) {
            return i;
        }
    }
    FAIL("no indicator " << code);
    static const nlohmann::json none;
    return none;
}

inline void require_indicators_add_up(const nlohmann::json& all,
                                      const std::vector<nlohmann::json>& regions) {
    auto fact = [](const nlohmann::json& i) {
        return i.at("fact").is_number() ? i.at("fact").get<double>() : 0.0;
    };
    for (const char* code :
         {"villages", "visits", "participants", "consultations", "journals", "protected"}) {
        double sum = 0;
        for (const auto& r : regions) {
            sum += fact(indicator_of(r, code));
        }
        INFO("indicator " << code);
        CHECK(fact(indicator_of(all, code)) == sum);
    }
    {
        double sum = 0, most = 0;
        for (const auto& r : regions) {
            sum += fact(indicator_of(r, "lawyers"));
            most = std::max(most, fact(indicator_of(r, "lawyers")));
        }
        double lawyers = fact(indicator_of(all, "lawyers"));
        CHECK(lawyers >= most);
        CHECK(lawyers <= sum);
    }
    for (auto [code, num, den] : {std::tuple{"satisfaction_percent", "satisfied", "respondents"},
                                  std::tuple{"photos_per_visit", "photos", "visits"}}) {
        const auto& i = indicator_of(all, code);
        std::int64_t n = 0, d = 0;
        for (const auto& r : regions) {
            const auto& ri = indicator_of(r, code);
            n += ri.value(num, std::int64_t{0});
            d += ri.value(den, std::int64_t{0});
        }
        INFO("indicator " << code);
        CHECK(i.value(num, std::int64_t{0}) == n);
        CHECK(i.value(den, std::int64_t{0}) == d);
        if (d > 0) {
            double ratio = (std::string(code) == "satisfaction_percent" ? 100.0 : 1.0) *
                           static_cast<double>(n) / static_cast<double>(d);
            CHECK(std::abs(fact(i) - ratio) <= 0.006);
        } else {
            CHECK(i.at("fact").is_null());
        }
    }
    // Warnings: (code, visit, field, count) of one visit in exactly one region; the others the
    // same everywhere.
    using Key = std::tuple<std::string, std::string, std::string, std::int64_t>;
    auto key = [](const nlohmann::json& w) {
        return Key{w.at("code").get<std::string>(), w.value("visit_id", std::string()),
                   w.value("field", w.value("records", std::string())),
                   w.at("count").get<std::int64_t>()};
    };
    std::multiset<Key> placed_all, placed_sum, global_all;
    for (const auto& w : all.at("warnings")) {
        (w.contains("visit_id") ? placed_all : global_all).insert(key(w));
    }
    for (const auto& r : regions) {
        std::multiset<Key> global;
        for (const auto& w : r.at("warnings")) {
            if (w.contains("visit_id")) {
                placed_sum.insert(key(w));
            } else {
                global.insert(key(w));
            }
        }
        CHECK((global == global_all));
    }
    CHECK((placed_all == placed_sum));
}

} // namespace caravan::test
