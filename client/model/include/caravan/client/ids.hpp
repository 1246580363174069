#pragma once
// Identifiers. Records get UUIDv7 (time-ordered, random tail). Records with a natural key —
// a village (region + name), a photo (content hash) — get a name-based id derived from that key,
// so two devices that record the same village or photo offline converge on one record.

#include <cstdint>
#include <string>
#include <string_view>

namespace caravan::client {

[[nodiscard]] std::string uuid_v7(std::int64_t unix_ms);
// RFC 9562 version 8 layout filled from SHA-256(namespace || 0x00 || key).
[[nodiscard]] std::string uuid_from_key(std::string_view name_space, std::string_view key);
[[nodiscard]] bool is_uuid(std::string_view text);
// Lowercase hex SHA-256.
[[nodiscard]] std::string sha256_hex(std::string_view data);

// The short form shown to people: the last 8 hex digits (the random part of a UUIDv7).
[[nodiscard]] std::string short_id(std::string_view id);

} // namespace caravan::client
