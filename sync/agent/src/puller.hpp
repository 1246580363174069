#pragma once
// The pull half of a sync (docs/protocol.md 6.5, 6.6): every event the server holds for this
// device after the cursor, page by page, applied here.
//
// Contract of pull_all():
// - Each page's events are applied together with the new cursor in ONE local transaction: after
//   a crash either both are there or neither, and the page is pulled again and re-applied
//   harmlessly. An event this device cannot apply (it fails validation) is quarantined, not
//   fatal; one of a newer schema stops the pull with upgrade_required.
// - The page size halves after a failed try and doubles after a success, within the tuning.
// - Returns epoch_changed when the server answers 409 `epoch_changed` or a page from another
//   epoch than the session's (nothing of it is taken; the caller resyncs, epoch_resync.hpp).

#include <cstdint>

#include "caravan/sync/protocol.hpp"
#include "exchanger.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

enum class PullEnd { done, epoch_changed };

class Puller {
  public:
    Puller(Session& session, Exchanger& exchanger)
        : m_session(session), m_exchanger(exchanger), m_page(session.tuning.initial_page) {}

    [[nodiscard]] Result<PullEnd> pull_all();

  private:
    [[nodiscard]] Result<void> apply_page(const PullResponse& page, std::int64_t cursor);

    Session& m_session;
    Exchanger& m_exchanger;
    std::int64_t m_page;
};

} // namespace caravan::sync::agent
