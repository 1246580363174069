#pragma once
// Enrollment (docs/protocol.md 6.1), behind SyncAgent::enroll (sync_agent.hpp states the
// contract).
//
// enroll_device(): one POST /v1/enroll with the normalized code, retried like every request
// (a retry after a lost answer is safe: the server answers the same code for the same id again
// as long as this device has not used a token of it); then the credentials are stored in one
// local transaction. An enrollment with another server (or a restored one: another epoch)
// restarts push and pull from the beginning.

#include "caravan/sync/agent/sync_agent.hpp"
#include "exchanger.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

// `session.device_id` is the device's id; `code` is normalized (normalize_enroll_code).
[[nodiscard]] Result<EnrollResult> enroll_device(Session& session, Exchanger& exchanger,
                                                 const EnrollRequest& request,
                                                 const std::string& code,
                                                 const std::string& lawyer);

} // namespace caravan::sync::agent
