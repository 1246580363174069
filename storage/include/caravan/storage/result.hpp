#pragma once
// The error vocabulary shared by every layer: expected failures travel as values.
// This header sits at the bottom of the dependency graph, so it names no domain concept.

#include <concepts>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "caravan/storage/message.hpp"

namespace caravan {

// Stable codes. The CLI maps them to exit codes, the server to HTTP statuses; add new ones at
// the end and never renumber.
enum class ErrorCode {
    invalid_input,    // bad argument, field, file content (user can fix the input)
    not_found,        // a referenced record, file or database does not exist
    ambiguous,        // a name or id prefix matches more than one record
    conflict,         // the request contradicts stored state (duplicate, already exists)
    not_initialized,  // the device database has not been initialised
    busy,             // another process holds the database lock for too long
    corrupt,          // a database failed its integrity check or is not ours
    storage_full,     // the disk or the database size limit is exhausted
    io,               // the file system refused an operation
    offline,          // the server cannot be reached
    timeout,          // the server did not answer in time
    auth,             // credentials missing, wrong or revoked
    forbidden,        // authenticated but not allowed
    server,           // the server answered with a fault
    protocol,         // the peer sent something that violates the protocol
    upgrade_required, // the peer speaks a schema/protocol version we cannot handle
    internal,         // a bug: should never reach a user
};

struct Error;

// One argument of a message template: literal text (an id, a number, a path, an option name,
// a value that is safe to echo), a word from a catalog rendered in the reader's language
// (a field name), or another error whose message is embedded, localized the same way.
struct MessageArg {
    std::string text;
    const Message* word = nullptr;
    std::shared_ptr<const Error> cause;

    MessageArg(std::string s) : text(std::move(s)) {}
    MessageArg(std::string_view s) : text(s) {}
    MessageArg(const char* s) : text(s) {}
    template <std::integral T>
        requires(!std::same_as<T, bool> && !std::same_as<T, char>)
    MessageArg(T n) : text(std::to_string(n)) {}
    MessageArg(const Message& w) : word(&w) {}
    MessageArg(const Error& e);
};

// `message` is always the English rendering: logs, the server and tests read it. `text` and
// `args` (absent for errors built from a bare string) let `localize` render it in another
// language.
struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;
    const Message* text = nullptr;
    std::vector<MessageArg> args = {};
};

template <class T> using Result = tl::expected<T, Error>;

inline MessageArg::MessageArg(const Error& e) : cause(std::make_shared<const Error>(e)) {}

// `message` rendered in `lang`: placeholders `{N}` replaced by argument N (words and embedded
// errors in `lang` too); a placeholder without an argument stays as written.
[[nodiscard]] std::string render(std::string_view templ, const std::vector<MessageArg>& args,
                                 Language lang);
// The error's message in `lang`; the English `message` when it has no template.
[[nodiscard]] std::string localize(const Error& error, Language lang);

[[nodiscard]] Error make_error(ErrorCode code, const Message& message,
                               std::vector<MessageArg> args);
template <class... Args>
[[nodiscard]] Error make_error(ErrorCode code, const Message& message, Args&&... args) {
    return make_error(code, message, std::vector<MessageArg>{MessageArg(std::forward<Args>(args))...});
}

template <class... Args>
[[nodiscard]] tl::unexpected<Error> fail(ErrorCode code, const Message& message, Args&&... args) {
    return tl::unexpected<Error>(make_error(code, message, std::forward<Args>(args)...));
}

// An untranslated error: only for messages no user should see (bugs) and for code outside the
// device's commands (the server's protocol text). tests/check_messages enforces this.
[[nodiscard]] inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
    return tl::unexpected<Error>(Error{code, std::move(message)});
}

[[nodiscard]] std::string_view to_string(ErrorCode code) noexcept;

} // namespace caravan

// Propagation, for functions that return a Result themselves (of any value type):
//
//     CARAVAN_TRY(device, engine.require_device()); // `device` is a reference to the value
//     CARAVAN_TRY_VOID(log.append(event));          // a Result<void>
//
// On failure the enclosing function returns the error unchanged. CARAVAN_TRY declares
// `var` and a hidden `var##_result` in the current scope.
#define CARAVAN_TRY(var, expr)                                                                   \
    auto var##_result = (expr);                                                                  \
    if (!var##_result) {                                                                         \
        return tl::unexpected(std::move(var##_result).error());                                  \
    }                                                                                            \
    auto& var = *var##_result

#define CARAVAN_TRY_VOID(expr)                                                                   \
    do {                                                                                         \
        if (auto caravan_try_result_ = (expr); !caravan_try_result_) {                           \
            return tl::unexpected(std::move(caravan_try_result_).error());                       \
        }                                                                                        \
    } while (false)
