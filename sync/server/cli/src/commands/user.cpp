// caravan-server user add|passwd|remove|list: the accounts of the coordinator's dashboard
// (accounts.hpp). A password is read from the terminal without echo (twice), or as one line
// from standard input when that is not a terminal; never from the command line.

#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <memory>
#include <ostream>

#include "../app.hpp"
#include "caravan/sync/server/accounts.hpp"

namespace caravan::sync::server {
namespace {

// One line of standard input; on a terminal with echo off. nullopt at end of input.
std::optional<std::string> read_secret_line(std::ostream& prompt_to, const std::string& prompt) {
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty) {
        prompt_to << prompt << std::flush;
        ::tcgetattr(STDIN_FILENO, &saved);
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        prompt_to << "\n";
    }
    if (!got) {
        return std::nullopt;
    }
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

Result<std::string> read_new_password(Context& ctx) {
    auto first = read_secret_line(ctx.err, "New password: ");
    if (!first) {
        return fail(ErrorCode::invalid_input, "no password given on standard input");
    }
    if (::isatty(STDIN_FILENO) == 1) {
        auto again = read_secret_line(ctx.err, "The same again: ");
        if (!again || *again != *first) {
            return fail(ErrorCode::invalid_input, "the two passwords differ: nothing changed");
        }
    }
    return *first;
}

// The store that holds the dashboard's accounts: the embedded one, or the PostgreSQL database
// every server process shares (--store).
Result<std::unique_ptr<Store>> open_accounts_store(const Context& ctx) {
    return open_existing(ctx);
}

struct Options {
    std::string name;
    std::string role;
    std::vector<std::string> regions;
};

Result<void> add_user(Context& ctx, const Options& o) {
    auto store = open_accounts_store(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    auto password = read_new_password(ctx);
    if (!password) {
        return tl::unexpected(password.error());
    }
    Accounts accounts((*store)->accounts(), [&] { return (*store)->now_ms(); });
    auto added = accounts.add(o.name, parse_account_role(o.role).value_or(AccountRole::viewer),
                              o.regions, *password);
    if (!added) {
        return tl::unexpected(added.error());
    }
    if (auto ok = accounts.audit("(operator)", "user_add", added->name); !ok) {
        return ok;
    }
    ctx.out << "added " << added->name << " (" << to_string(added->role) << ", "
            << (added->regions.empty() ? std::string("every region")
                                       : std::to_string(added->regions.size()) + " region(s)")
            << ")\n";
    return {};
}

Result<void> change_password(Context& ctx, const Options& o) {
    auto store = open_accounts_store(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    Accounts accounts((*store)->accounts(), [&] { return (*store)->now_ms(); });
    auto known = accounts.find(o.name);
    if (!known) {
        return tl::unexpected(known.error());
    }
    if (!*known) {
        return fail(ErrorCode::invalid_input, "no account named " + o.name);
    }
    auto password = read_new_password(ctx);
    if (!password) {
        return tl::unexpected(password.error());
    }
    if (auto ok = accounts.set_password(o.name, *password); !ok) {
        return ok;
    }
    if (auto ok = accounts.audit("(operator)", "user_passwd", o.name); !ok) {
        return ok;
    }
    ctx.out << "password of " << o.name << " changed; its sessions ended\n";
    return {};
}

Result<void> remove_user(Context& ctx, const Options& o) {
    auto store = open_accounts_store(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    Accounts accounts((*store)->accounts(), [&] { return (*store)->now_ms(); });
    if (auto ok = accounts.remove(o.name); !ok) {
        if (ok.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::invalid_input, ok.error().message);
        }
        return ok;
    }
    if (auto ok = accounts.audit("(operator)", "user_remove", o.name); !ok) {
        return ok;
    }
    ctx.out << "removed " << o.name << "\n";
    return {};
}

Result<void> list_users(Context& ctx) {
    auto store = open_accounts_store(ctx);
    if (!store) {
        return tl::unexpected(store.error());
    }
    Accounts accounts((*store)->accounts(), [&] { return (*store)->now_ms(); });
    auto all = accounts.list();
    if (!all) {
        return tl::unexpected(all.error());
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& a : *all) {
        std::string regions;
        for (const auto& r : a.regions) {
            regions += (regions.empty() ? "" : ", ") + r;
        }
        rows.push_back({a.name, std::string(to_string(a.role)), regions.empty() ? "(all)" : regions,
                        iso_utc(a.created_at_ms)});
    }
    print_table(ctx.out, {"account", "role", "regions", "created"}, rows);
    return {};
}

const bool registered = register_command("user", [](CLI::App& app, Registry& registry) {
    auto o = std::make_shared<Options>();
    auto* user_cmd = app.add_subcommand("user", "Accounts of the coordinator's dashboard");
    user_cmd->require_subcommand(1);
    auto* add_cmd = user_cmd->add_subcommand(
        "add", "Add an account (the password is read from the terminal or standard input)");
    add_cmd->add_option("NAME", o->name, "Account name (A-Z a-z 0-9 . _ -)")->required();
    add_cmd->add_option("--role", o->role, "coordinator or viewer (aggregates only)")
        ->check(CLI::IsMember({"coordinator", "viewer"}))
        ->required();
    add_cmd->add_option("--region", o->regions,
                        "A region the account sees (repeatable; none: every region)");
    registry.add_data(*add_cmd);
    registry.add_store(*add_cmd);
    auto* passwd_cmd = user_cmd->add_subcommand("passwd", "Set an account's password");
    passwd_cmd->add_option("NAME", o->name, "Account name")->required();
    registry.add_data(*passwd_cmd);
    registry.add_store(*passwd_cmd);
    auto* remove_cmd = user_cmd->add_subcommand("remove", "Remove an account and its sessions");
    remove_cmd->add_option("NAME", o->name, "Account name")->required();
    registry.add_data(*remove_cmd);
    registry.add_store(*remove_cmd);
    auto* list_cmd = user_cmd->add_subcommand("list", "List the accounts");
    registry.add_data(*list_cmd);
    registry.add_store(*list_cmd);
    add_cmd->callback(
        [&registry, o] { registry.set([o](Context& c) { return add_user(c, *o); }); });
    passwd_cmd->callback(
        [&registry, o] { registry.set([o](Context& c) { return change_password(c, *o); }); });
    remove_cmd->callback(
        [&registry, o] { registry.set([o](Context& c) { return remove_user(c, *o); }); });
    list_cmd->callback([&registry] { registry.set([](Context& c) { return list_users(c); }); });
});

} // namespace
} // namespace caravan::sync::server
