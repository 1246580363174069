#pragma once
// Keys of the device's local settings table used by the engine (private to client/).
#include <string_view>

namespace caravan::client::key {
inline constexpr std::string_view device_id = "device_id";
inline constexpr std::string_view lawyer = "lawyer";
inline constexpr std::string_view region = "region";
inline constexpr std::string_view hlc = "hlc";
inline constexpr std::string_view current_visit = "current_visit";
// Highest own sequence number the server acknowledged (written by the sync agent).
inline constexpr std::string_view push_acked_seq = "push_acked_seq";
} // namespace caravan::client::key
