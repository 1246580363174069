#pragma once
// Conflicts made by real `caravan` laptops, and the conflicts page's "keep this value" forms as
// a browser sends them (dashboard_conflict_keep_test.cpp, dashboard_pg_two_servers_test.cpp).

#include <string>

#include "../sync/e2e_support.hpp"
#include "dashboard_support.hpp"

namespace caravan::test::dashboard {

// The row of the conflict of `id`'s `field` on the conflicts page ("" when none).
inline std::string conflict_row(const Page& page, const std::string& id,
                                const std::string& field) {
    const auto at = page.body.find("<tr data-id=\"" + id + "\" data-field=\"" + field + "\">");
    if (at == std::string::npos) {
        return "";
    }
    return page.body.substr(at, page.body.find("</tr>", at) - at);
}

// The form that keeps `side` ("kept" or "overwritten") of that conflict, as the page holds it.
inline httplib::Params keep_form(const Page& page, const std::string& id,
                                 const std::string& field, const std::string& side) {
    const std::string row = conflict_row(page, id, field);
    REQUIRE_FALSE(row.empty());
    const std::string marker = "name=\"row\" value=\"";
    const auto at = row.find(marker) + marker.size();
    return {{"csrf", page.csrf()},
            {"type", "consultation"},
            {"id", id},
            {"field", field},
            {"row", row.substr(at, row.find('"', at) - at)},
            {"keep", side}};
}

// Both laptops, holding consultation `id`, set its outcome offline ("document" on `a`, then
// "referred" on `b`: the later, kept) and sync: a conflict on both and on the server.
inline void outcome_set_on_both(const e2e::Laptop& a, const e2e::Laptop& b,
                                const std::string& id) {
    a.must({"consult", "edit", id, "--outcome", "document"});
    b.must({"consult", "edit", id, "--outcome", "referred"});
    a.must_sync();
    b.must_sync();
    a.must_sync();
}

inline std::string shown(const e2e::Laptop& l, const std::string& id, const std::string& field) {
    return l.must_json({"consult", "show", id})[field].get<std::string>();
}

} // namespace caravan::test::dashboard
