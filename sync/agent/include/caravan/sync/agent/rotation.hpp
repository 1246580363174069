#pragma once
// Device rotation, the local half (docs/sync-algorithm.md 9): after the server refused this
// device's log with `sequence_conflict` (the database was restored from an older backup, or
// copied to a second laptop, and then written to), the device continues under a NEW device id
// that the server issued with the same enrollment (POST /v1/rotate).
//
// Contract of reissue_under_new_id():
// - In ONE transaction: every local event of `old_id` with seq >= `from_seq` (the events the
//   server does not hold identically) is written again under `new_id` with seqs 1, 2, ...
//   (after a `device` record for the new id), in the old seq order, with fresh clock values
//   greater than every clock value in the local log, and with `base` versions that named a
//   re-issued event renamed to its new version; the superseded copies and their quarantine
//   entries are removed; every projection is rebuilt from the log; the engine's identity
//   (settings device_id, hlc) becomes `new_id`; then `finish` runs (the agent stores the new
//   token, acknowledgement and cursor there). All of it commits together or not at all.
// - Idempotent: when the database already has `new_id` as its identity, nothing is done and
//   `already` is true.
// - Events of other devices and events of `old_id` below `from_seq` are not touched; nothing
//   the lawyer recorded is dropped (a `create` of the old device record itself is replaced by
//   the new id's own).

#include <cstdint>
#include <functional>
#include <string>

#include "caravan/client/engine.hpp"

namespace caravan::sync::agent {

struct ReissueResult {
    std::int64_t reissued = 0; // old events written again under the new id
    std::int64_t new_last_seq = 0;
    bool already = false;
};

[[nodiscard]] Result<ReissueResult>
reissue_under_new_id(client::Engine& engine, const std::string& old_id, const std::string& new_id,
                     std::int64_t from_seq, std::int64_t now_ms,
                     const std::function<Result<void>()>& finish);

} // namespace caravan::sync::agent
