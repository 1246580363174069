// caravan-server export journal, caravan-server report indicators|breakdown: the coordinator
// exports shared with `caravan` (cli/src/export_commands.hpp), on the server database given by
// --data. The server may be running: the database is opened without creating or migrating
// anything, and every export reads one snapshot (WAL lets it read while the server writes).

#include <memory>
#include <string>

#include "../app.hpp"
#include "caravan/client/domain.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "export_commands.hpp"

namespace caravan::sync::server {
namespace {

// The server's own options of each export command: --data, --lang and --json.
struct ExportOptions {
    std::string lang = "en";
    bool json = false;
};

cli::ExportHost server_host(Registry& registry) {
    auto o = std::make_shared<ExportOptions>();
    cli::ExportHost host;
    host.add_options = [&registry, o](CLI::App& command) {
        registry.add_data(command);
        registry.add_store(command);
        command.add_option("--lang", o->lang, "Language of labels: kk, ru or en")
            ->check(CLI::IsMember({"kk", "ru", "en"}))
            ->capture_default_str();
        command.add_flag("--json", o->json,
                         "JSON: the summary of -o, and the reports' default format");
    };
    host.set_action = [&registry, o](cli::ExportAction action) {
        registry.set([o, action](Context& ctx) -> Result<void> {
            cli::ExportIo io{ctx.out, ctx.err, o->json,
                             client::parse_lang(o->lang).value_or(client::Lang::en),
                             "caravan-server"};
            std::unique_ptr<Store> store;
            return action(io, [&]() -> Result<storage::Database*> {
                StoreOptions options;
                options.create = false;
                options.migrate = false;
                options.integrity_check = false;
                auto opened = open_store(ctx, options);
                if (!opened) {
                    return tl::unexpected(opened.error());
                }
                store = std::move(*opened);
                if (auto ok = store->refresh(); !ok) {
                    return tl::unexpected(ok.error());
                }
                return &store->database();
            });
        });
    };
    return host;
}

const bool export_registered = register_command("export", [](CLI::App& app, Registry& registry) {
    cli::add_export_commands(app, server_host(registry));
});

const bool report_registered = register_command("report", [](CLI::App& app, Registry& registry) {
    cli::add_report_commands(app, server_host(registry));
});

} // namespace
} // namespace caravan::sync::server
