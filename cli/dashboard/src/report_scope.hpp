#pragma once
// What the report pages (journals, indicators, breakdowns, activity) share: the region and
// period a form asks for, checked against what the account sees; a refusal in the page's
// language; the scope fields' template context; the audit entry's detail for a scope.

#include <string>

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

} // namespace caravan::dashboard
