// What sync reads of the event log, and the push acknowledgement the engine owns
// (engine.hpp, "for sync").
#include <charconv>

#include "caravan/client/engine.hpp"
#include "caravan/client/messages.hpp"
#include "engine_write_state.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

Result<std::vector<storage::Event>> Engine::device_events(std::string_view device_id,
                                                          std::int64_t after_seq,
                                                          std::int64_t limit) {
    return m_log.device_events(device_id, after_seq, limit);
}

Result<std::int64_t> Engine::last_seq(std::string_view device_id) {
    return m_log.last_seq(device_id);
}

Result<std::optional<storage::Event>> Engine::find_event(std::string_view device_id,
                                                         std::int64_t seq) {
    return m_log.find(device_id, seq);
}

Result<std::int64_t> Engine::scan_events(
    std::int64_t after, std::int64_t limit,
    const std::function<bool(const storage::Event&)>& visitor) {
    return m_log.scan(after, limit, visitor);
}

Result<std::int64_t> Engine::event_count() { return m_log.count(); }

Result<std::int64_t> Engine::server_seq_known_upto(std::string_view device_id) {
    return m_log.server_seq_known_upto(device_id);
}

Result<std::int64_t> Engine::push_acked_seq() {
    // Strict, unlike acked_seq(): the sync agent must not push from a guessed position.
    return m_settings.get_count(key::push_acked_seq);
}

Result<void> Engine::acknowledge_push(std::int64_t acked_seq,
                                      const std::vector<AcceptedEvent>& accepted) {
    return write([&]() -> Result<void> {
        if (m_write->device_id.empty()) {
            return fail(ErrorCode::not_initialized, msg::not_initialised);
        }
        for (const AcceptedEvent& a : accepted) {
            if (auto ok = m_log.set_server_seq(m_write->device_id, a.seq, a.server_seq); !ok) {
                return ok;
            }
        }
        return m_settings.set(key::push_acked_seq, std::to_string(acked_seq));
    });
}

Result<void> Engine::rewind_push_ack(std::int64_t seq) {
    return write([&] { return m_settings.set(key::push_acked_seq, std::to_string(seq)); });
}

Result<void> Engine::forget_server_seqs() {
    return write([&] { return m_log.clear_server_seqs(); });
}

} // namespace caravan::client
