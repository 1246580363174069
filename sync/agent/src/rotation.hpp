#pragma once
// Device rotation, the protocol side (docs/sync-algorithm.md 9, docs/protocol.md 6.10): after
// the server refused this device's log with `sequence_conflict`, the device asks the server for
// a new id (POST /v1/rotate) and then rewrites its own log under it
// (Engine::reissue_under_new_id, with the agent's own state in the same transaction).
//
// Contract:
// - begin() stores the new id and the first seq to re-issue BEFORE the server hears of it, so a
//   crash after the server's answer resumes with the same id; then it runs complete().
// - complete() finishes a rotation stored by begin() (in this run or an interrupted one): safe to
//   repeat from any point, since the server answers a repeated request for the same new id with
//   a fresh token as long as the new id has not spoken (it speaks only after the rewrite
//   committed), and the rewrite is skipped when the identity already changed. Nothing to do
//   when no rotation is stored.
// - After a rotation the session speaks as the new id with the new token, and its report names
//   both ids; at most one rotation per run (happened()).

#include <cstdint>

#include "exchanger.hpp"
#include "session.hpp"

namespace caravan::sync::agent {

class Rotation {
  public:
    Rotation(Session& session, Exchanger& exchanger) : m_session(session), m_exchanger(exchanger) {}

    [[nodiscard]] Result<void> begin(std::int64_t from_seq);
    [[nodiscard]] Result<void> complete();
    [[nodiscard]] bool happened() const { return m_rotated; }

  private:
    Session& m_session;
    Exchanger& m_exchanger;
    bool m_rotated = false;
};

} // namespace caravan::sync::agent
