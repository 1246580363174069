#include "report_scope.hpp"

#include "caravan/client/domain.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/dashboard/messages.hpp"

namespace caravan::dashboard {

namespace ex = client::exports;

// The scope the form asks for, within what the account sees: a scoped account must name one
// of its regions (its only one is taken when it names none).
Checked<ex::Scope> scope_of(const Page& page) {
    ex::Scope scope;
    std::string region = page.form.get("region");
    if (region.empty() && page.account.regions.size() == 1) {
        region = page.account.regions.front();
    }
    if (!region.empty()) {
        if (!page.account.sees(region)) {
            return tl::unexpected(Refusal{tr(page, msg::region_outside), 403});
        }
        scope.region = region;
    } else if (!page.account.regions.empty()) {
        return tl::unexpected(Refusal{tr(page, msg::region_outside), 403});
    }
    for (auto [bound, name] : {std::pair{&scope.from, "from"}, std::pair{&scope.to, "to"}}) {
        const std::string value = page.form.get(name);
        if (value.empty()) {
            continue;
        }
        auto date = client::validate_date(name, value);
        if (!date) {
            return tl::unexpected(Refusal{client::localize(date.error(), page.lang)});
        }
        *bound = *date;
    }
    return scope;
}

Refusal refusal_of(const Page& page, const Error& error) {
    if (error.code == ErrorCode::invalid_input || error.code == ErrorCode::not_found) {
        return Refusal{tr(page, msg::export_refused, {client::localize(error, page.lang)})};
    }
    page.services.log("dashboard error=export code=" + std::string(to_string(error.code)));
    return Refusal{tr(page, msg::server_error), 503};
}

mstch::map scope_context(const Page& page) {
    mstch::array regions;
    for (const auto& r : page.account.regions) {
        regions.push_back(mstch::map{{"name", r}, {"chosen", r == page.form.get("region")}});
    }
    return mstch::map{
        {"field_region", tr(page, msg::field_region)},
        {"field_from", tr(page, msg::field_from)},
        {"field_to", tr(page, msg::field_to)},
        {"every_region", tr(page, msg::every_region)},
        {"scoped", !page.account.regions.empty()},
        {"regions", regions},
        {"region_value", page.form.get("region")},
        {"from_value", page.form.get("from")},
        {"to_value", page.form.get("to")},
        {"download_csv", tr(page, msg::download_csv)},
        {"download_xlsx", tr(page, msg::download_xlsx)},
        {"download_json", tr(page, msg::download_json)},
    };
}

std::string scope_detail(const ex::Scope& scope, ex::Format format) {
    return "format=" + std::string(ex::to_string(format)) +
           " region=" + scope.region.value_or("*") + " from=" + scope.from.value_or("-") +
           " to=" + scope.to.value_or("-");
}

std::string report_key(std::string_view kind, const ex::Scope& scope) {
    // Each part with its length (absent: "-"), so no two requests share a key.
    std::string key(kind);
    for (const auto& part : {scope.region, scope.from, scope.to}) {
        key += part ? " " + std::to_string(part->size()) + ":" + *part : std::string(" -");
    }
    return key;
}

web::Answer scope_page(const Page& page, const std::string& name, const Message& title,
                       mstch::map extra, int status) {
    mstch::map context = scope_context(page);
    context.emplace("show_button", tr(page, msg::show_button));
    for (auto& [k, v] : extra) {
        context[k] = v;
    }
    return render_page(page, name, tr(page, title), std::move(context), status);
}

} // namespace caravan::dashboard
