// caravan-server migrate-store: moves an embedded store into an empty PostgreSQL store
// (migrate_to_postgresql, store.hpp); devices go on syncing against it without a resync.

#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/pg.hpp"

namespace caravan::sync::server {
namespace {

struct Options {
    std::string from;
    std::string to;
};

Result<void> migrate_store(Context& ctx, const Options& o) {
    pg::Pool pool(o.to, 1);
    auto result = migrate_to_postgresql(o.from, pool);
    if (!result) {
        return tl::unexpected(result.error());
    }
    ctx.out << "migrated " << result->events << " events, " << result->rejected
            << " rejected events, " << result->devices << " devices, " << result->codes
            << " enrollment codes, " << result->accounts << " dashboard accounts and "
            << result->audit_entries << " audit entries to " << pg::redact(o.to) << " (epoch "
            << result->epoch << " kept)\n";
    ctx.err << "caravan-server: now serve with --store and a --data of its own per process;"
               " keep "
            << o.from << " until the new store is known good\n";
    return {};
}

const bool registered = register_command("migrate-store", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand(
        "migrate-store", "Move an embedded store (server stopped) into an empty PostgreSQL store");
    cmd->add_option("--from", o->from, "Data directory of the embedded store (holds server.db)")
        ->required();
    cmd->add_option("--to", o->to, "postgresql://... URL of an empty database")
        ->required()
        ->check([](const std::string& value) {
            return pg::is_url(value) ? std::string()
                                     : std::string("--to takes a postgresql:// URL");
        });
    cmd->callback(
        [&registry, o] { registry.set([o](Context& ctx) { return migrate_store(ctx, *o); }); });
});

} // namespace
} // namespace caravan::sync::server
