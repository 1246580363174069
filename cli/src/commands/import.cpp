// `caravan import FILE [--dry-run] [--format csv|jsonl|json|xlsx]`: argument parsing and printing only;
// reading and validating the journal is client::import_journal.

#include "common.hpp"

#include "caravan/client/import.hpp"
#include "messages.hpp"
#include "progress.hpp"

namespace caravan::cli {
namespace {

void print_report(Context& ctx, const client::ImportReport& r) {
    if (r.dry_run) {
        ctx.out << phrase(ctx, msg::word_dry_run) << "\n";
    }
    ctx.out << phrase(ctx, msg::word_rows) << ": " << r.rows << "\n"
            << phrase(ctx, r.dry_run ? msg::word_would_import : msg::word_imported) << ": " << r.imported << "\n"
            << phrase(ctx, msg::word_already_present) << ": " << r.already_present << "\n"
            << phrase(ctx, msg::word_villages_created) << ": " << r.villages_created;
    // Named, so that a misspelt village or region shows before it is written (--dry-run).
    constexpr std::size_t k_named = 10;
    std::string names;
    for (std::size_t i = 0; i < r.new_villages.size() && i < k_named; ++i) {
        const client::NewVillage& v = r.new_villages[i];
        names += (names.empty() ? "" : "; ") + v.name + " (" + v.region + ")";
    }
    if (r.new_villages.size() > k_named) {
        names += "; +" + std::to_string(r.new_villages.size() - k_named);
    }
    if (!names.empty()) {
        ctx.out << "  " << names;
    }
    ctx.out << "\n" << phrase(ctx, msg::word_visits_created) << ": " << r.visits_created << "\n";
}

const bool registered = register_command("import", [](CLI::App& app, Registry& registry) {
    struct Options {
        std::string file;
        bool dry_run = false;
        std::string format = "auto";
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "import",
        "Import consultations from a journal file (CSV, JSON Lines, a JSON journal export or "
        "XLSX); see docs/import.md");
    cmd->add_option("file", o->file, "Journal file: .csv, .jsonl, .ndjson, .json or .xlsx")
        ->required();
    cmd->add_flag("--dry-run", o->dry_run, "Check every row and count; write nothing");
    cmd->add_option("--format", o->format,
                    "csv, jsonl, json, xlsx or auto (default: by extension, then content)")
        ->check(CLI::IsMember({"auto", "csv", "jsonl", "json", "xlsx"}));
    cmd->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            client::ImportOptions options;
            options.dry_run = o->dry_run;
            options.format = o->format == "csv"     ? client::ImportFormat::csv
                             : o->format == "jsonl" ? client::ImportFormat::jsonl
                             : o->format == "json"  ? client::ImportFormat::json
                             : o->format == "xlsx"  ? client::ImportFormat::xlsx
                                                    : client::ImportFormat::automatic;
            ProgressLine line(ctx.err, ctx.lang);
            const Message& writing =
                o->dry_run ? msg::progress_rows_compared : msg::progress_rows_written;
            options.progress = [&](client::ImportStage stage, std::int64_t done,
                                   std::int64_t total) {
                line.show(stage == client::ImportStage::checking ? msg::progress_rows_checked
                                                                 : writing,
                          done, total);
            };
            auto imported = client::import_journal(engine, o->file, options);
            line.clear();
            CARAVAN_TRY(report, std::move(imported));
            if (ctx.json) {
                print_json(ctx, client::to_json(report));
            } else if (report.ok()) {
                print_report(ctx, report);
            }
            if (report.ok()) {
                return {};
            }
            if (!ctx.json) {
                for (const client::ImportIssue& issue : report.errors) {
                    ctx.err << shown(client::to_string(issue, ctx.lang)) << "\n";
                }
            }
            ctx.json_printed = ctx.json;
            std::int64_t bad_lines = 0, last = -1;
            for (const client::ImportIssue& issue : report.errors) {
                bad_lines += issue.line != last;
                last = issue.line;
            }
            return fail(ErrorCode::invalid_input, msg::import_refused, report.errors.size(),
                        bad_lines, o->file);
        });
    });
});

} // namespace
} // namespace caravan::cli
