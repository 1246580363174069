// caravan export journal: the consultation journal as CSV, JSON or XLSX (client/export/).

#include "common.hpp"

#include "caravan/client/export/journal.hpp"
#include "caravan/client/messages.hpp"
#include "messages.hpp"

namespace caravan::cli {
namespace {

namespace ex = client::exports;

struct JournalOptions {
    std::optional<std::string> region;
    bool all = false;
    std::optional<std::string> from, to, format, output;
};

std::string summary_line(client::Lang lang, std::int64_t rows, const std::string& file) {
    switch (lang) {
    case client::Lang::kk:
        return std::to_string(rows) + " кеңес " + file + " файлына жазылды";
    case client::Lang::ru:
        return "записано консультаций: " + std::to_string(rows) + " в " + file;
    case client::Lang::en:
        break;
    }
    return "wrote " + std::to_string(rows) + " consultations to " + file;
}

Result<void> run_journal(Context& ctx, const JournalOptions& o) {
    if (o.all == o.region.has_value()) {
        return fail(ErrorCode::invalid_input, msg::journal_scope);
    }
    std::optional<std::filesystem::path> output;
    if (o.output) {
        output = *o.output;
    }
    CARAVAN_TRY(format, ex::choose_format(o.format, output, ex::Format::csv));
    if (format == ex::Format::text) {
        return fail(ErrorCode::invalid_input, client::msg::format_journal);
    }
    CARAVAN_TRY_ENGINE(engine, ctx);
    ex::JournalRequest request;
    request.scope = ex::Scope{o.region, o.from, o.to};
    request.lang = ctx.lang;
    if (!output) {
        // Streamed to stdout; --json adds nothing (a JSON journal is already one document).
        CARAVAN_TRY(summary, ex::write_journal(engine.database(), request, format, ctx.out));
        (void)summary;
        return {};
    }
    CARAVAN_TRY(summary, ex::export_journal(engine.database(), request, format, *output));
    if (ctx.json) {
        print_json(ctx, {{"file", output->string()},
                         {"format", ex::to_string(format)},
                         {"rows", summary.rows},
                         {"sheets", summary.sheets}});
    } else {
        ctx.out << summary_line(ctx.lang, summary.rows, output->string()) << "\n";
    }
    return {};
}

const bool registered = register_command("export", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("export", "Coordinator exports: consultation journals");
    group->require_subcommand(1);
    auto o = std::make_shared<JournalOptions>();
    auto* journal = group->add_subcommand(
        "journal", "The consultation journal: one row per consultation (csv, json or xlsx)");
    journal->add_option("--region", o->region, "Only this region's journal");
    journal->add_flag("--all", o->all, "Every region (xlsx: one sheet per region)");
    journal->add_option("--from", o->from, "From visit date YYYY-MM-DD (inclusive)");
    journal->add_option("--to", o->to, "To visit date YYYY-MM-DD (inclusive)");
    journal->add_option("--format", o->format,
                        "csv, json or xlsx (default: from the -o extension, else csv)");
    journal->add_option("-o,--output", o->output,
                        "Output file, written atomically (default: stdout; xlsx needs a file)");
    journal->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> { return run_journal(ctx, *o); });
    });
});

} // namespace
} // namespace caravan::cli
