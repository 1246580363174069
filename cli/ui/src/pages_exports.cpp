// Exports and reports from the device's records, downloaded by the browser: the consultation
// journal, the breakdown of participants, the indicators against an uploaded plan. The same
// library calls as `caravan export` and `caravan report` (client/exports), on a read-only
// connection of the app's own, so a long export never holds the engine's lock.
#include <fstream>
#include <sys/stat.h>

#include "app.hpp"
#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/plan.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

namespace ex = client::exports;
namespace fs = std::filesystem;

mstch::array format_options(std::initializer_list<const char*> formats) {
    mstch::array out;
    for (const char* f : formats) {
        out.push_back(mstch::map{{"code", std::string(f)}, {"label", std::string(f)}});
    }
    return out;
}

Answer exports_page(const Page& page, const std::string& error) {
    mstch::map ctx{
        {"error", error},
        {"intro", tr(page, msg::exports_intro)},
        {"journal_title", tr(page, msg::journal_title)},
        {"breakdown_title", tr(page, msg::breakdown_title)},
        {"indicators_title", tr(page, msg::indicators_title)},
        {"plan_label", tr(page, msg::plan_file)},
        {"format_label", tr(page, msg::format_label)},
        {"region_label", tr(page, msg::region_label)},
        {"from_label", tr(page, msg::filter_from)},
        {"to_label", tr(page, msg::filter_to)},
        {"download", tr(page, msg::download)},
        {"journal_formats", format_options({"xlsx", "csv", "json"})},
        {"report_formats", format_options({"xlsx", "csv", "json"})},
    };
    Answer answer = render_page(page, "exports", tr(page, msg::exports_title), std::move(ctx));
    if (!error.empty()) {
        answer.status = 400;
    }
    return answer;
}

Answer get_exports(const Page& page) {
    return exports_page(page, {});
}

std::optional<std::string> nonempty(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional(s);
}

// A private scratch file next to the database (never /tmp: exports hold personal data).
Result<fs::path> scratch_file(const Page& page, std::string_view extension) {
    const fs::path dir = page.engine.path().parent_path() / ".caravan-ui-exports";
    std::error_code ec;
    fs::create_directories(dir, ec);
    ::chmod(dir.c_str(), 0700);
    return dir / ("export-" + random_token().substr(0, 16) + "." + std::string(extension));
}

// Runs `make` into a scratch file, then answers it as a download (streamed from the file and
// removed once sent).
Answer download(const Page& page, ex::Format format, const std::string& name,
                const std::function<Result<void>(storage::Database&, const fs::path&)>& make) {
    const std::string ext(ex::to_string(format));
    auto file = scratch_file(page, ext);
    Result<void> made = file ? Result<void>{} : tl::unexpected(file.error());
    if (made) {
        storage::OpenOptions options;
        options.create = false;
        options.read_only = true;
        options.integrity_check = false;
        auto db = storage::Database::open(page.engine.path(), options);
        made = db ? make(*db, *file) : tl::unexpected(db.error());
    }
    if (!made) {
        if (file) {
            std::error_code ec;
            fs::remove(*file, ec);
        }
        return exports_page(page, error_text(page, made.error()));
    }
    Answer answer;
    answer.file = *file;
    answer.content_type = format == ex::Format::xlsx
                              ? "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                          : format == ex::Format::csv ? "text/csv; charset=utf-8"
                                                      : "application/json";
    answer.download_name = name + "-" + client::today() + "." + ext;
    return answer;
}

Result<ex::Format> report_format(const Page& page) {
    auto format = ex::parse_format(page.form.get("format"));
    if (format && *format == ex::Format::text) {
        return ex::parse_format("");
    }
    return format;
}

ex::Scope scope_of(const Page& page) {
    return ex::Scope{nonempty(page.form.get("region")), nonempty(page.form.get("from")),
                     nonempty(page.form.get("to"))};
}

Answer get_journal(const Page& page) {
    auto format = report_format(page);
    if (!format) {
        return exports_page(page, error_text(page, format.error()));
    }
    return download(page, *format, "journal", [&](storage::Database& db, const fs::path& file) -> Result<void> {
        auto done = ex::export_journal(db, ex::JournalRequest{scope_of(page), page.lang}, *format, file);
        if (!done) {
            return tl::unexpected(done.error());
        }
        return {};
    });
}

Answer get_breakdown(const Page& page) {
    auto format = report_format(page);
    if (!format) {
        return exports_page(page, error_text(page, format.error()));
    }
    return download(page, *format, "breakdown", [&](storage::Database& db, const fs::path& file) -> Result<void> {
        auto breakdown = ex::compute_breakdown(db, scope_of(page));
        if (!breakdown) {
            return tl::unexpected(breakdown.error());
        }
        return ex::export_breakdown(*breakdown, *format, page.lang, file);
    });
}

Answer post_indicators(const Page& page) {
    auto format = report_format(page);
    if (!format) {
        return exports_page(page, error_text(page, format.error()));
    }
    const auto upload = std::find_if(page.form.uploads.begin(), page.form.uploads.end(),
                                     [](const Form::Upload& u) { return u.field == "plan"; });
    if (upload == page.form.uploads.end() || upload->content.empty()) {
        return exports_page(page, tr(page, msg::plan_needed));
    }
    auto plan = ex::parse_plan(upload->content, upload->filename);
    if (!plan) {
        return exports_page(page, error_text(page, plan.error()));
    }
    return download(page, *format, "indicators", [&](storage::Database& db, const fs::path& file) -> Result<void> {
        auto report = ex::compute_indicators(db, *plan, scope_of(page));
        if (!report) {
            return tl::unexpected(report.error());
        }
        return ex::export_indicators(*report, *format, page.lang, file);
    });
}

} // namespace

void add_export_routes(Routes& routes) {
    routes.get.emplace("/exports", get_exports);
    routes.get.emplace("/export/journal", get_journal);
    routes.get.emplace("/export/breakdown", get_breakdown);
    routes.post.emplace("/export/indicators", post_indicators);
}

} // namespace caravan::ui
