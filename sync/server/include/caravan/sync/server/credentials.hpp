#pragma once
// Enrollment codes and device tokens: generation, syntax, and the hashes the server stores.
//
// - An enrollment code is 9 characters from a 31-character alphabet without look-alikes
//   (no 0/O, 1/I/L), shown as XXX-XXX-XXX. Input is accepted in any case, with or without the
//   dashes and spaces.
// - A token is 32 random bytes written as 64 lowercase hex digits.
// - Neither is stored: only SHA-256 hex of the canonical form. Comparisons of hashes take
//   constant time.
// Thread-safe (libsodium's generator).

#include <optional>
#include <string>
#include <string_view>

namespace caravan::sync::server {

inline constexpr std::string_view k_code_alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
inline constexpr std::size_t k_code_length = 9;
inline constexpr std::size_t k_token_hex_length = 64;

// A fresh code in display form "XXX-XXX-XXX".
[[nodiscard]] std::string new_enrollment_code();
// The canonical 9 characters of a typed code, or nullopt when it cannot be one.
[[nodiscard]] std::optional<std::string> normalize_code(std::string_view input);

[[nodiscard]] std::string new_token();
// `bytes` random bytes as lowercase hex (the server epoch uses 8).
[[nodiscard]] std::string random_hex(std::size_t bytes);
[[nodiscard]] bool is_token_syntax(std::string_view text);

// Lowercase hex SHA-256 of `secret`.
[[nodiscard]] std::string hash_secret(std::string_view secret);
// Constant-time equality of two hashes of equal length.
[[nodiscard]] bool same_hash(std::string_view a, std::string_view b);

} // namespace caravan::sync::server
