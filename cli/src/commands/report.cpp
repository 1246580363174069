// caravan report indicators | breakdown: the grant report's tables computed from the records.

#include "common.hpp"

#include "caravan/client/export/report.hpp"

namespace caravan::cli {
namespace {

namespace ex = client::exports;

struct ReportOptions {
    std::optional<std::string> plan, region, from, to, format, output;
};

std::string wrote_line(client::Lang lang, std::string_view what, const std::string& file) {
    switch (lang) {
    case client::Lang::kk:
        return file + " файлына жазылды (" + std::string(what) + ")";
    case client::Lang::ru:
        return "записано в " + file + " (" + std::string(what) + ")";
    case client::Lang::en:
        break;
    }
    return "wrote " + std::string(what) + " to " + file;
}

std::string csv_warning_note(client::Lang lang, std::size_t n) {
    switch (lang) {
    case client::Lang::kk:
        return "caravan: деректер сапасы туралы " + std::to_string(n) +
               " ескерту CSV-ке кірмеді; --format text, json немесе xlsx қараңыз";
    case client::Lang::ru:
        return "caravan: предупреждения о качестве данных (" + std::to_string(n) +
               ") не входят в CSV; см. --format text, json или xlsx";
    case client::Lang::en:
        break;
    }
    return "caravan: " + std::to_string(n) +
           " data-quality warnings are not in the CSV; see --format text, json or xlsx";
}

Result<ex::Format> report_format(Context& ctx, const ReportOptions& o) {
    std::optional<std::filesystem::path> output;
    if (o.output) {
        output = *o.output;
    }
    return ex::choose_format(o.format, output, ctx.json ? ex::Format::json : ex::Format::text);
}

void print_written(Context& ctx, std::string_view what, ex::Format format, const std::string& file,
                   std::optional<std::size_t> warnings) {
    if (ctx.json) {
        nlohmann::json j = {{"file", file}, {"format", ex::to_string(format)}};
        if (warnings) {
            j["warnings"] = *warnings;
        }
        print_json(ctx, j);
    } else {
        ctx.out << wrote_line(ctx.lang, what, file) << "\n";
    }
}

Result<void> run_indicators(Context& ctx, const ReportOptions& o) {
    CARAVAN_TRY(format, report_format(ctx, o));
    CARAVAN_TRY(plan, ex::load_plan(*o.plan));
    CARAVAN_TRY_ENGINE(engine, ctx);
    CARAVAN_TRY(report,
                ex::compute_indicators(engine.database(), plan, ex::Scope{o.region, o.from, o.to}));
    if (o.output) {
        if (auto ok = ex::export_indicators(report, format, ctx.lang, *o.output); !ok) {
            return ok;
        }
        print_written(ctx, "indicators", format, *o.output, report.warnings.size());
    } else if (auto ok = ex::write_indicators(report, format, ctx.lang, ctx.out); !ok) {
        return ok;
    }
    if (format == ex::Format::csv && !report.warnings.empty()) {
        ctx.err << csv_warning_note(ctx.lang, report.warnings.size()) << "\n";
    }
    return {};
}

Result<void> run_breakdown(Context& ctx, const ReportOptions& o) {
    CARAVAN_TRY(format, report_format(ctx, o));
    CARAVAN_TRY_ENGINE(engine, ctx);
    CARAVAN_TRY(breakdown,
                ex::compute_breakdown(engine.database(), ex::Scope{o.region, o.from, o.to}));
    if (o.output) {
        if (auto ok = ex::export_breakdown(breakdown, format, ctx.lang, *o.output); !ok) {
            return ok;
        }
        print_written(ctx, "breakdown", format, *o.output, std::nullopt);
        return {};
    }
    return ex::write_breakdown(breakdown, format, ctx.lang, ctx.out);
}

void common_options(CLI::App* cmd, ReportOptions& o) {
    cmd->add_option("--region", o.region, "Only this region");
    cmd->add_option("--from", o.from, "From visit date YYYY-MM-DD (inclusive)");
    cmd->add_option("--to", o.to, "To visit date YYYY-MM-DD (inclusive)");
    cmd->add_option("--format", o.format,
                    "text, json, csv or xlsx (default: from the -o extension, else text; json "
                    "with --json)");
    cmd->add_option("-o,--output", o.output,
                    "Output file, written atomically (default: stdout; xlsx needs a file)");
}

const bool registered = register_command("report", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("report", "The grant report's tables, computed from records");
    group->require_subcommand(1);

    auto in = std::make_shared<ReportOptions>();
    auto* indicators = group->add_subcommand(
        "indicators", "Plan against fact for each indicator, with data-quality warnings");
    indicators->add_option("--plan", in->plan, "Plan file (JSON; see docs/exports.md)")->required();
    common_options(indicators, *in);
    indicators->callback([&registry, in] {
        registry.set([in](Context& ctx) -> Result<void> { return run_indicators(ctx, *in); });
    });

    auto bd = std::make_shared<ReportOptions>();
    auto* breakdown = group->add_subcommand(
        "breakdown", "Participants by gender, social category, age band and vulnerable group");
    common_options(breakdown, *bd);
    breakdown->callback([&registry, bd] {
        registry.set([bd](Context& ctx) -> Result<void> { return run_breakdown(ctx, *bd); });
    });
});

} // namespace
} // namespace caravan::cli
