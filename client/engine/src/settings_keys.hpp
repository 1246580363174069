#pragma once
// Keys of the device's local settings table used by the engine (private to client/engine).
#include <string_view>

namespace caravan::client::key {
inline constexpr std::string_view device_id = "device_id";
inline constexpr std::string_view lawyer = "lawyer";
inline constexpr std::string_view region = "region";
inline constexpr std::string_view hlc = "hlc";
inline constexpr std::string_view current_visit = "current_visit";
// Highest own sequence number the server acknowledged: the engine's, moved by the sync agent
// only through Engine::acknowledge_push / rewind_push_ack (and reset by a rotation).
inline constexpr std::string_view push_acked_seq = "push_acked_seq";
// The enrollment answer, written by the sync agent when the device enrolls
// (sync/agent/agent_state.hpp): "lawyer" | "coordinator", and a JSON array of region names.
// The engine reads them to refuse recording outside a lawyer's regions.
inline constexpr std::string_view sync_role = "sync.role";
inline constexpr std::string_view sync_regions = "sync.regions";
} // namespace caravan::client::key
