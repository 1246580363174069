#include "app.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>

#include "caravan/client/hlc.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"
#include "messages.hpp"
#include "output.hpp"

namespace caravan::cli {

namespace {

std::map<std::string, Setup>& commands() {
    static std::map<std::string, Setup> all; // sorted: stable help output
    return all;
}

// A leftover word is named in an error when it reads as a word someone mistyped (a command,
// an option's value in the wrong place): short, one word, printable. Longer or multi-word text
// may be a consultation's question typed without its option, and is only counted.
bool nameable(const std::string& arg) {
    if (arg.empty() || arg.size() > 40 || !client::is_valid_utf8(arg) ||
        !client::is_safe_text(arg)) {
        return false;
    }
    return std::none_of(arg.begin(), arg.end(),
                        [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; });
}

// Every leftover argument, from the top level down the chain of selected subcommands.
std::vector<std::string> leftovers(const CLI::App& app) {
    std::vector<std::string> all;
    const CLI::App* level = &app;
    for (int depth = 0; level && depth < 8; ++depth) {
        for (const std::string& arg : level->remaining()) {
            all.push_back(arg);
        }
        auto selected = level->get_subcommands();
        level = selected.empty() ? nullptr : selected.front();
    }
    return all;
}

bool has_unknown_option(const CLI::App& app) {
    auto all = leftovers(app);
    return std::any_of(all.begin(), all.end(),
                       [](const std::string& a) { return a.size() > 1 && a.front() == '-'; });
}

// CLI11 lists every unexpected argument, and after a mistyped option name that includes the
// free text meant for it (a consultation's question). Name the options and the words; count
// the rest.
Error extras_error(const CLI::App& app) {
    std::string named;
    size_t hidden = 0;
    for (const std::string& arg : leftovers(app)) {
        if (nameable(arg)) {
            named += (named.empty() ? "" : " ") + arg;
        } else {
            ++hidden;
        }
    }
    MessageArg names = named.empty() ? MessageArg(msg::word_none_named) : MessageArg(named);
    if (hidden == 0) {
        return make_error(ErrorCode::invalid_input, msg::args_unexpected, names);
    }
    if (hidden == 1) {
        return make_error(ErrorCode::invalid_input, msg::args_unexpected_hidden_one, names);
    }
    return make_error(ErrorCode::invalid_input, msg::args_unexpected_hidden, names, hidden);
}

// "A subcommand is required" after `caravan frobnicate`: name the word that is not a command.
Error unknown_command_error(const CLI::App& app) {
    const CLI::App* level = &app;
    std::string path = "caravan";
    for (int depth = 0; depth < 8; ++depth) {
        auto selected = level->get_subcommands();
        if (selected.empty()) {
            break;
        }
        level = selected.front();
        path += " " + level->get_name();
    }
    for (const std::string& arg : leftovers(app)) {
        if (!arg.starts_with("-") && nameable(arg)) {
            return make_error(ErrorCode::invalid_input, msg::command_unknown, arg, path);
        }
    }
    return make_error(ErrorCode::invalid_input, msg::command_required);
}

// CLI11's own errors, reworded from its English text so that they can be translated. CLI11
// names the option at a fixed place in each kind of message; anything not recognised is passed
// on in parentheses.
Error parse_error(const CLI::App& app, const CLI::ParseError& e) {
    const std::string what = e.what();
    auto before = [&](std::string_view marker) -> std::optional<std::string> {
        auto at = what.find(marker);
        if (at == std::string::npos || at == 0) {
            return std::nullopt;
        }
        return what.substr(0, at);
    };
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
        return extras_error(app);
    }
    // CLI11 checks required options before it looks at unknown ones: `consult add --bogus`
    // would report "--gender is required" and never name --bogus.
    if (has_unknown_option(app)) {
        return extras_error(app);
    }
    if (dynamic_cast<const CLI::RequiredError*>(&e)) {
        if (what.find("subcommand") != std::string::npos) {
            return unknown_command_error(app);
        }
        if (what.ends_with(" is required")) {
            return make_error(ErrorCode::invalid_input, msg::option_required,
                              what.substr(0, what.size() - 12));
        }
    }
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
        if (auto to = what.find(" arguments to "); to != std::string::npos) {
            std::string name = what.substr(to + 14);
            name = name.substr(0, name.find(','));
            return make_error(ErrorCode::invalid_input, msg::option_value_missing, name);
        }
        if (auto name = before(": ")) {
            return make_error(ErrorCode::invalid_input, msg::option_value_missing, *name);
        }
    }
    if (dynamic_cast<const CLI::ConversionError*>(&e)) {
        // "Could not convert: NAME = VALUES" / "The value V is not an allowed value for NAME";
        // the value itself is not repeated (it may be free text typed in the wrong place).
        if (what.starts_with("Could not convert: ")) {
            std::string name = what.substr(19);
            return make_error(ErrorCode::invalid_input, msg::option_value_unreadable,
                              name.substr(0, name.find(" = ")));
        }
        if (auto at = what.rfind(" value for "); at != std::string::npos) {
            return make_error(ErrorCode::invalid_input, msg::option_value_unreadable,
                              what.substr(at + 11));
        }
        if (auto name = before(": ")) {
            return make_error(ErrorCode::invalid_input, msg::option_value_unreadable, *name);
        }
    }
    if (dynamic_cast<const CLI::ValidationError*>(&e)) {
        if (auto name = before(": ")) {
            return make_error(ErrorCode::invalid_input, msg::option_value_refused, *name,
                              what.substr(name->size() + 2));
        }
    }
    if (dynamic_cast<const CLI::RequiresError*>(&e)) {
        if (auto name = before(" requires ")) {
            return make_error(ErrorCode::invalid_input, msg::option_requires, *name,
                              what.substr(name->size() + 10));
        }
    }
    if (dynamic_cast<const CLI::ExcludesError*>(&e)) {
        if (auto name = before(" excludes ")) {
            return make_error(ErrorCode::invalid_input, msg::option_excludes, *name,
                              what.substr(name->size() + 10));
        }
    }
    return make_error(ErrorCode::invalid_input, msg::command_line_invalid, what);
}

// The language for a command line that failed to parse: --lang if CLI11 took it in, else as
// written on the command line, else English.
client::Lang parse_error_lang(const CLI::App& app, const std::vector<std::string>& args) {
    if (const CLI::Option* lang = app.get_option_no_throw("--lang"); lang && lang->count() > 0) {
        if (auto parsed = client::parse_lang(lang->results().back())) {
            return *parsed;
        }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string value;
        if (args[i] == "--lang" && i + 1 < args.size()) {
            value = args[i + 1];
        } else if (args[i].starts_with("--lang=")) {
            value = args[i].substr(7);
        } else {
            continue;
        }
        if (auto parsed = client::parse_lang(value)) {
            return *parsed;
        }
    }
    return client::Lang::en;
}

// `text` with each whole word that is a key of `words` replaced by its value.
std::string replace_words(const std::string& text,
                          const std::map<std::string, std::string, std::less<>>& words) {
    std::string out, word;
    auto flush = [&] {
        const auto it = words.find(word);
        out += it == words.end() ? word : it->second;
        word.clear();
    };
    for (char c : text) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            word += c;
        } else {
            flush();
            out += c;
        }
    }
    flush();
    return out;
}

// --help in the chosen language: every description given to CLI11 is a help_* entry of the
// catalog, found by its English text (one without an entry stays English, which the language
// test catches); CLI11's own words (Usage, Options, REQUIRED, TEXT, …) through its formatter's
// labels and the option groups' names.
void translate_help(CLI::App& app, client::Lang lang) {
    if (lang == client::Lang::en) {
        return;
    }
    const Language in = client::message_lang(lang);
    std::map<std::string, std::string, std::less<>> texts;
    for (const Message* m : msg::catalog()) {
        if (m->id.starts_with("cli.help_")) {
            texts.emplace(std::string(m->en), std::string(m->text(in)));
        }
    }
    auto tr = [&](const std::string& en) {
        const auto it = texts.find(en);
        return it == texts.end() ? en : it->second;
    };
    const auto formatter = app.get_formatter(); // shared by every subcommand
    for (const char* word :
         {"Usage", "OPTIONS", "SUBCOMMAND", "REQUIRED", "Positionals", "Excludes"}) {
        formatter->label(word, tr(word));
    }
    const std::map<std::string, std::string, std::less<>> type_words = {
        {"TEXT", tr("TEXT")},   {"INT", tr("INT")}, {"UINT", tr("INT")},
        {"FLOAT", tr("FLOAT")}, {"POSITIVE", tr("POSITIVE")}, {"in", tr("in")}};
    std::vector<CLI::App*> pending = {&app};
    for (std::size_t depth = 0; !pending.empty() && depth < 10000; ++depth) {
        CLI::App* a = pending.back();
        pending.pop_back();
        a->description(tr(a->get_description()));
        if (a->get_group() == "Subcommands") {
            a->group(tr("Subcommands"));
        }
        for (CLI::Option* opt : a->get_options()) {
            opt->description(tr(opt->get_description()));
            if (opt->get_group() == "Options") { // "" (hidden) stays hidden
                opt->group(tr("Options"));
            }
            const std::string type = opt->get_type_name();
            formatter->label(type, replace_words(type, type_words));
        }
        for (CLI::App* sub : a->get_subcommands({})) {
            pending.push_back(sub);
        }
    }
}

} // namespace

bool register_command(std::string name, Setup setup) {
    commands().emplace(std::move(name), std::move(setup));
    return true;
}

std::filesystem::path Context::database_path() const {
    return db_path ? std::filesystem::path(*db_path) : client::default_database_path();
}

Result<client::Engine*> Context::engine() {
    if (!m_engine) {
        client::EngineOptions options;
        options.create = may_create;
        // A missing parent directory is created only for the default location (the user's
        // data directory, which a first `init` makes); a path given with --db or CARAVAN_DB
        // must name an existing directory, so that a typo does not scatter databases.
        const char* env_db = std::getenv("CARAVAN_DB");
        options.create_directories = may_create && !db_path && !(env_db && *env_db);
        options.integrity_check = !open_damaged;
        if (const char* timeout = std::getenv("CARAVAN_BUSY_TIMEOUT_MS")) {
            options.busy_timeout_ms = std::max(0, std::atoi(timeout));
        }
        // Diagnostic knob for clock-skew tests: shifts this process's physical clock.
        if (const char* skew = std::getenv("CARAVAN_CLOCK_SKEW_MS")) {
            long long offset = std::atoll(skew);
            options.clock = [offset] { return client::system_now_ms() + offset; };
        }
        auto engine = client::Engine::open(database_path(), std::move(options));
        if (!engine) {
            return tl::unexpected(engine.error());
        }
        m_engine = std::make_unique<client::Engine>(std::move(*engine));
    }
    return m_engine.get();
}

int exit_code(ErrorCode code) {
    switch (code) {
    case ErrorCode::invalid_input:
    case ErrorCode::not_found:
    case ErrorCode::ambiguous:
    case ErrorCode::conflict:
    case ErrorCode::not_initialized:
        return 2;
    case ErrorCode::busy:
        return 3;
    case ErrorCode::offline:
    case ErrorCode::timeout:
        return 4;
    case ErrorCode::auth:
    case ErrorCode::forbidden:
        return 5;
    case ErrorCode::server:
    case ErrorCode::protocol:
        return 6;
    case ErrorCode::upgrade_required:
        return 7;
    case ErrorCode::corrupt:
    case ErrorCode::storage_full:
    case ErrorCode::io:
    case ErrorCode::internal:
        return 1;
    }
    return 1;
}

int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    CLI::App app{"caravan: offline record-keeping for mobile legal-aid caravans", "caravan"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("caravan ") + CARAVAN_VERSION);
    std::optional<std::string> db_path;
    bool json = false;
    std::string lang_text = "en";
    // Given twice (`caravan --lang ru status --lang kk`), the last one counts.
    app.add_option("--db", db_path,
                   "Device database file (default: $CARAVAN_DB, else "
                   "$XDG_DATA_HOME/caravan/caravan.db)")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_flag("--json", json, "Print exactly one JSON document on stdout");
    app.add_option("--lang", lang_text, "Language of labels and messages: kk, ru or en")
        ->check(CLI::IsMember({"kk", "ru", "en"}))
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    // Global options may follow the subcommand (`caravan consult list --json`); a subcommand's
    // own option of the same name (`consult add --lang kk`) takes precedence.
    app.fallthrough(true);

    Registry registry;
    for (auto& [name, setup] : commands()) {
        setup(app, registry);
    }

    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::Success& e) {
        translate_help(app, parse_error_lang(app, args));
        return app.exit(e, out, err);
    } catch (const CLI::ParseError& e) {
        const Error error = parse_error(app, e);
        const client::Lang lang = parse_error_lang(app, args);
        const std::string message = client::localize(error, lang);
        if (json) {
            out << nlohmann::json{{"error",
                                   {{"code", "invalid_input"},
                                    {"message", message},
                                    {"message_en", error.message}}}}
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
        }
        err << "caravan: " << message << "\n";
        if (e.get_exit_code() != 0) {
            err << msg::run_with_help.text(client::message_lang(lang)) << "\n";
        }
        return e.get_exit_code() == 0 ? 0 : 2;
    }

    Context ctx{out, err};
    ctx.json = json;
    ctx.lang = client::parse_lang(lang_text).value_or(client::Lang::en);
    ctx.db_path = db_path;
    if (!registry.action()) {
        err << "caravan: " << msg::nothing_to_do.text(client::message_lang(ctx.lang)) << "\n";
        return 2;
    }
    Result<void> result;
    try {
        result = registry.action()(ctx);
    } catch (const std::exception& e) {
        // A bug: say so plainly, without the data that triggered it.
        result = fail(ErrorCode::internal, msg::internal_error, e.what());
    }
    if (!result) {
        // Shown in the chosen language; `message_en` keeps the English text for scripts and
        // support, `code` is the stable key.
        const std::string message = client::localize(result.error(), ctx.lang);
        if (json && !ctx.json_printed) {
            out << nlohmann::json{{"error",
                                   {{"code", to_string(result.error().code)},
                                    {"message", message},
                                    {"message_en", result.error().message}}}}
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n";
        }
        // Messages never quote record text, but some name reference data (a region, a
        // village); printed as stored text is.
        err << "caravan: " << shown(message) << "\n";
        return exit_code(result.error().code);
    }
    out.flush();
    return 0;
}

} // namespace caravan::cli
