#pragma once
// The push half of a sync (docs/protocol.md 6.4): this device's unacknowledged events go to the
// server in batches, oldest first, until the server holds them all.
//
// Contract of push_outbox():
// - Each acknowledged batch is stored in ONE local transaction: the new push_acked_seq, the
//   server_seq of each accepted event, the quarantine entry of each refused one (a refused
//   event is set aside, never retried; one accepted later is released).
// - A batch is at most the current byte budget (at least one event) and the protocol's event
//   limit; the budget halves after a failed try (the retry sends a rebuilt, smaller batch) and
//   after a 413, and doubles after a success, between the tuning's bounds.
// - `sequence_gap`: resends from the server's acked_seq. `sequence_conflict`: rotates (Rotation)
//   and pushes the re-issued events under the new id; a second conflict in one run is a
//   protocol error.
// - Returns true when the outbox is empty, false when the server answered from another epoch
//   than the session's (nothing of that answer is taken; the caller resyncs, epoch_resync.hpp).

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "exchanger.hpp"
#include "rotation.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

class Pusher {
  public:
    Pusher(Session& session, Exchanger& exchanger, Rotation& rotation);

    [[nodiscard]] Result<bool> push_outbox();

  private:
    struct Batch {
        std::string body;                                                     // uncompressed JSON
        std::map<std::int64_t, std::pair<std::string, std::string>> entities; // seq → type, id
        std::int64_t first = 0, last = 0;
        [[nodiscard]] bool empty() const { return entities.empty(); }
    };

    [[nodiscard]] Result<Batch> build_batch(std::int64_t acked);
    [[nodiscard]] Result<bool> take_results(const Batch& batch, const nlohmann::json& body,
                                            std::int64_t acked);
    void shrink();
    void grow();

    Session& m_session;
    Exchanger& m_exchanger;
    Rotation& m_rotation;
    std::size_t m_batch_bytes;
};

} // namespace caravan::sync::agent
