#pragma once
// The error vocabulary shared by every layer: expected failures travel as values.
// This header sits at the bottom of the dependency graph, so it names no domain concept.

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

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

struct Error {
    ErrorCode code = ErrorCode::internal;
    std::string message;
};

template <class T> using Result = tl::expected<T, Error>;

[[nodiscard]] inline tl::unexpected<Error> fail(ErrorCode code, std::string message) {
    return tl::unexpected<Error>(Error{code, std::move(message)});
}

[[nodiscard]] std::string_view to_string(ErrorCode code) noexcept;

} // namespace caravan
