// caravan-server: the server's own commands (sync/server/cli.hpp) and the coordinator exports
// shared with `caravan` (export_commands.hpp), run on the server database.

#include <iostream>
#include <memory>

#include "caravan/sync/server/cli.hpp"
#include "caravan/sync/server/data_dir.hpp"
#include "caravan/sync/server/store.hpp"
#include "export_commands.hpp"

namespace {

namespace server = caravan::sync::server;
namespace cli = caravan::cli;

// `export journal` and `report ...` on `--data DIR`. The server may be running: the database is
// opened without creating or migrating anything, and every export reads one snapshot (WAL lets
// it read while the server writes).
void add_exports(CLI::App& app, const server::CliHooks& hooks) {
    struct Shared {
        std::string lang = "en";
        bool json = false;
    };
    auto shared = std::make_shared<Shared>();
    cli::ExportHost host;
    host.add_options = [hooks, shared](CLI::App& command) {
        hooks.add_data(command);
        command.add_option("--lang", shared->lang, "Language of labels: kk, ru or en")
            ->check(CLI::IsMember({"kk", "ru", "en"}))
            ->capture_default_str();
        command.add_flag("--json", shared->json,
                         "JSON: the summary of -o, and the reports' default format");
    };
    host.set_action = [hooks, shared](cli::ExportAction action) {
        hooks.set_action([shared, action](const std::filesystem::path& data, std::ostream& out,
                                          std::ostream& err) -> caravan::Result<void> {
            cli::ExportIo io{
                out, err, shared->json,
                caravan::client::parse_lang(shared->lang).value_or(caravan::client::Lang::en),
                "caravan-server"};
            std::unique_ptr<server::Store> store;
            return action(io, [&]() -> caravan::Result<caravan::storage::Database*> {
                server::StoreOptions options;
                options.create = false;
                options.migrate = false;
                options.integrity_check = false;
                auto opened = server::Store::open(server::database_path(data), options);
                if (!opened) {
                    return tl::unexpected(opened.error());
                }
                store = std::move(*opened);
                return &store->database();
            });
        });
    };
    cli::add_export_commands(app, host);
    cli::add_report_commands(app, host);
}

} // namespace

int main(int argc, char** argv) {
    return server::run_cli({argv + 1, argv + argc}, std::cout, std::cerr, {add_exports});
}
