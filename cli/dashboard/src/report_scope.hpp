#pragma once
// What the report pages (journals, indicators, breakdowns, activity) share: the region and
// period a form asks for, checked against what the account sees; a refusal in the page's
// language; the scope fields' template context; the audit entry's detail for a scope.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <mstch/mstch.hpp>

#include "app.hpp"
#include "caravan/client/export/common.hpp"

namespace caravan::dashboard {

// A page-level refusal shown in the page's language.
struct Refusal {
    std::string text;
    int status = 400;
};
template <class T> using Checked = tl::expected<T, Refusal>;

// The scope the form asks for (fields region, from, to), within what the account sees: a
// scoped account must name one of its regions (its only one is taken when it names none);
// another region is refused with 403, a bad date with 400.
[[nodiscard]] Checked<client::exports::Scope> scope_of(const Page& page);
// A computation's failure: the reason for bad input or an unknown region, else a logged 503.
[[nodiscard]] Refusal refusal_of(const Page& page, const Error& error);
// The context of templates/scope_fields.mustache (and the download labels).
[[nodiscard]] mstch::map scope_context(const Page& page);
// "format=F region=R from=D to=D" for the audit log (no personal data).
[[nodiscard]] std::string scope_detail(const client::exports::Scope& scope,
                                       client::exports::Format format);

// The page `name` (templates/NAME.mustache) with the scope fields, the "show" button and
// `extra`: the frame of the breakdowns and the activity.
[[nodiscard]] web::Answer scope_page(const Page& page, const std::string& name,
                                     const Message& title, mstch::map extra, int status = 200);

// The key of a report over `scope` in the report cache: `kind` (the page) and the scope.
[[nodiscard]] std::string report_key(std::string_view kind, const client::exports::Scope& scope);

// The scope the form asks for, then `compute(database, scope)` (a Result<T>) on a connection
// lent from the server's pool, or its result for the same store version from the report cache
// (report_cache.hpp; `kind` names the computation there): the scope and the result, or the
// refusal to show. `kind` empty: computed every time (a page not worth keeping, such as a page
// of the record browser).
template <class T, class Compute>
[[nodiscard]] Checked<std::pair<client::exports::Scope, T>>
compute_in_scope(const Page& page, std::string_view kind, Compute compute) {
    auto scope = scope_of(page);
    if (!scope) {
        return tl::unexpected(scope.error());
    }
    std::optional<T> result;
    auto computed =
        page.services.with_store(false, [&](sync::server::Store& store) -> Result<void> {
            const auto run = [&](storage::Database& db) { return compute(db, *scope); };
            auto r = kind.empty() ? Result<T>(run(store.database()))
                                  : page.services.reports().get<T>(
                                        store, report_key(kind, *scope), run);
            if (!r) {
                return tl::unexpected(r.error());
            }
            result = std::move(*r);
            return {};
        });
    if (!computed) {
        return tl::unexpected(refusal_of(page, computed.error()));
    }
    return std::pair{*scope, std::move(*result)};
}
template <class T, class Compute>
[[nodiscard]] Checked<std::pair<client::exports::Scope, T>> compute_in_scope(const Page& page,
                                                                             Compute compute) {
    return compute_in_scope<T>(page, {}, std::move(compute));
}

} // namespace caravan::dashboard
