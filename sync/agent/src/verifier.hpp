#pragma once
// Verification (docs/protocol.md 6.7): the count and digest of the events this device holds
// with a known server_seq up to its pull cursor, against the server's for the same range.
//
// Contract of verify_with_server(): one GET /v1/verify?upto=<cursor> (retried like every
// request), then one pass over the local log in pages; `agree` when count and digest are equal.
// A mismatch is a value, not an error; the caller decides what it means.

#include "caravan/sync/agent/sync_agent.hpp"
#include "exchanger.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

[[nodiscard]] Result<VerifyReport> verify_with_server(Session& session, Exchanger& exchanger);

} // namespace caravan::sync::agent
