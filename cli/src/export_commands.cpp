// caravan export journal / caravan report indicators|breakdown, and the same commands of
// caravan-server: the consultation journal and the grant report's tables (client/export/).

#include "export_commands.hpp"

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "caravan/client/export/journal.hpp"
#include "caravan/client/export/report.hpp"
#include "caravan/client/messages.hpp"
#include "messages.hpp"
#include "progress.hpp"

namespace caravan::cli {
namespace {

namespace ex = client::exports;

void print_json(ExportIo& io, const nlohmann::json& document) {
    io.out << document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::optional<std::filesystem::path> output_path(const std::optional<std::string>& output) {
    if (!output) {
        return std::nullopt;
    }
    return std::filesystem::path(*output);
}

// ---- export journal ------------------------------------------------------------------------

struct JournalOptions {
    std::optional<std::string> region;
    bool all = false;
    std::optional<std::string> from, to, format, output;
};

// A catalog sentence in `lang` with its placeholders filled.
std::string sentence(client::Lang lang, const Message& text, const std::vector<MessageArg>& args) {
    const Language in = client::message_lang(lang);
    return render(text.text(in), args, in);
}

Result<void> run_journal(ExportIo& io, const OpenDatabase& open, const JournalOptions& o) {
    if (o.all == o.region.has_value()) {
        return fail(ErrorCode::invalid_input, msg::journal_scope);
    }
    const auto output = output_path(o.output);
    auto format = ex::choose_format(o.format, output, ex::Format::csv);
    if (!format) {
        return tl::unexpected(format.error());
    }
    if (*format == ex::Format::text) {
        return fail(ErrorCode::invalid_input, client::msg::format_journal);
    }
    auto db = open();
    if (!db) {
        return tl::unexpected(db.error());
    }
    ex::JournalRequest request;
    request.scope = ex::Scope{o.region, o.from, o.to};
    request.lang = io.lang;
    ProgressLine line(io.err, io.lang,
                      output ? ProgressLine::Stdout::quiet : ProgressLine::Stdout::data);
    const auto progress = [&line](std::int64_t rows) {
        line.show(msg::progress_rows_written, rows);
    };
    if (!output) {
        // Streamed to stdout; --json adds nothing (a JSON journal is already one document).
        auto summary = ex::write_journal(**db, request, *format, io.out, progress);
        if (!summary) {
            return tl::unexpected(summary.error());
        }
        return {};
    }
    auto summary = ex::export_journal(**db, request, *format, *output, progress);
    line.clear();
    if (!summary) {
        return tl::unexpected(summary.error());
    }
    if (io.json) {
        print_json(io, {{"file", output->string()},
                        {"format", ex::to_string(*format)},
                        {"rows", summary->rows},
                        {"sheets", summary->sheets}});
    } else {
        io.out << sentence(io.lang, msg::journal_wrote, {summary->rows, output->string()}) << "\n";
    }
    return {};
}

// ---- report indicators | breakdown ---------------------------------------------------------

struct ReportOptions {
    std::optional<std::string> plan, region, from, to, format, output;
};

Result<ex::Format> report_format(const ExportIo& io, const ReportOptions& o) {
    return ex::choose_format(o.format, output_path(o.output),
                             io.json ? ex::Format::json : ex::Format::text);
}

void print_written(ExportIo& io, std::string_view what, ex::Format format, const std::string& file,
                   std::optional<std::size_t> warnings) {
    if (io.json) {
        nlohmann::json j = {{"file", file}, {"format", ex::to_string(format)}};
        if (warnings) {
            j["warnings"] = *warnings;
        }
        print_json(io, j);
    } else {
        io.out << sentence(io.lang, msg::report_wrote, {std::string(what), file}) << "\n";
    }
}

Result<void> run_indicators(ExportIo& io, const OpenDatabase& open, const ReportOptions& o) {
    auto format = report_format(io, o);
    if (!format) {
        return tl::unexpected(format.error());
    }
    auto plan = ex::load_plan(*o.plan);
    if (!plan) {
        return tl::unexpected(plan.error());
    }
    auto db = open();
    if (!db) {
        return tl::unexpected(db.error());
    }
    ProgressLine line(io.err, io.lang);
    auto report = ex::compute_indicators(
        **db, *plan, ex::Scope{o.region, o.from, o.to},
        [&line](std::int64_t visits) { line.show(msg::progress_visits_counted, visits); });
    line.clear();
    if (!report) {
        return tl::unexpected(report.error());
    }
    if (o.output) {
        if (auto ok = ex::export_indicators(*report, *format, io.lang, *o.output); !ok) {
            return ok;
        }
        print_written(io, "indicators", *format, *o.output, report->warnings.size());
    } else if (auto ok = ex::write_indicators(*report, *format, io.lang, io.out); !ok) {
        return ok;
    }
    if (*format == ex::Format::csv && !report->warnings.empty()) {
        io.err << io.program << ": "
               << sentence(io.lang, msg::report_csv_warnings, {report->warnings.size()}) << "\n";
    }
    return {};
}

Result<void> run_breakdown(ExportIo& io, const OpenDatabase& open, const ReportOptions& o) {
    auto format = report_format(io, o);
    if (!format) {
        return tl::unexpected(format.error());
    }
    auto db = open();
    if (!db) {
        return tl::unexpected(db.error());
    }
    ProgressLine line(io.err, io.lang);
    auto breakdown = ex::compute_breakdown(
        **db, ex::Scope{o.region, o.from, o.to},
        [&line](std::int64_t visits) { line.show(msg::progress_visits_counted, visits); });
    line.clear();
    if (!breakdown) {
        return tl::unexpected(breakdown.error());
    }
    if (o.output) {
        if (auto ok = ex::export_breakdown(*breakdown, *format, io.lang, *o.output); !ok) {
            return ok;
        }
        print_written(io, "breakdown", *format, *o.output, std::nullopt);
        return {};
    }
    return ex::write_breakdown(*breakdown, *format, io.lang, io.out);
}

// --from, --to, --format and -o, the same for every export.
template <class Options>
void scope_and_output_options(CLI::App* cmd, Options& o, const std::string& formats) {
    cmd->add_option("--from", o.from, "From visit date YYYY-MM-DD (inclusive)");
    cmd->add_option("--to", o.to, "To visit date YYYY-MM-DD (inclusive)");
    cmd->add_option("--format", o.format, formats);
    cmd->add_option("-o,--output", o.output,
                    "Output file, written atomically (default: stdout; xlsx needs a file)");
}

void report_options(CLI::App* cmd, ReportOptions& o) {
    cmd->add_option("--region", o.region, "Only this region");
    scope_and_output_options(cmd, o,
                             "text, json, csv or xlsx (default: from the -o extension, else "
                             "text; json with --json)");
}

// Hands the host the action of `command` once CLI11 has parsed it.
template <class Options, class Run>
void on_parsed(CLI::App* command, const ExportHost& host, std::shared_ptr<Options> options,
               Run run) {
    if (host.add_options) {
        host.add_options(*command);
    }
    command->callback([set = host.set_action, options, run] {
        set([options, run](ExportIo& io, const OpenDatabase& open) {
            return run(io, open, *options);
        });
    });
}

} // namespace

void add_export_commands(CLI::App& app, const ExportHost& host) {
    auto* group = app.add_subcommand("export", "Coordinator exports: consultation journals");
    group->require_subcommand(1);
    auto o = std::make_shared<JournalOptions>();
    auto* journal = group->add_subcommand(
        "journal", "The consultation journal: one row per consultation (csv, json or xlsx)");
    journal->add_option("--region", o->region, "Only this region's journal");
    journal->add_flag("--all", o->all, "Every region (xlsx: one sheet per region)");
    scope_and_output_options(journal, *o,
                             "csv, json or xlsx (default: from the -o extension, else csv)");
    on_parsed(journal, host, o, run_journal);
}

void add_report_commands(CLI::App& app, const ExportHost& host) {
    auto* group = app.add_subcommand("report", "The grant report's tables, computed from records");
    group->require_subcommand(1);

    auto in = std::make_shared<ReportOptions>();
    auto* indicators = group->add_subcommand(
        "indicators", "Plan against fact for each indicator, with data-quality warnings");
    indicators->add_option("--plan", in->plan, "Plan file (JSON; see docs/exports.md)")->required();
    report_options(indicators, *in);
    on_parsed(indicators, host, in, run_indicators);

    auto bd = std::make_shared<ReportOptions>();
    auto* breakdown = group->add_subcommand(
        "breakdown", "Participants by gender, social category, age band and vulnerable group");
    report_options(breakdown, *bd);
    on_parsed(breakdown, host, bd, run_breakdown);
}

} // namespace caravan::cli
