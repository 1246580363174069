#pragma once
// After the server's epoch changed (it was restored from a backup; docs/protocol.md 7.4).
//
// Contract of resync_after_epoch_change(): asks the server what it holds of this device
// (GET /v1/status); lowers push_acked_seq to the server's where the server holds less and
// forgets every server_seq of the old feed (one local transaction); takes the new epoch; pushes
// the outbox (so whatever the restored server lost of our acknowledged events is offered again);
// then restarts the cursor at 0 under the new epoch, so everything is pulled again (applying is
// idempotent). A crash anywhere in between leaves the old epoch stored, so the next sync does
// all of it again. `server` (msg::epoch_changed_again) when the epoch changes once more during
// the push.

#include "exchanger.hpp"
#include "pusher.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

[[nodiscard]] Result<void> resync_after_epoch_change(Session& session, Exchanger& exchanger,
                                                     Pusher& pusher);

} // namespace caravan::sync::agent
