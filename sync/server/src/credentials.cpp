#include "caravan/sync/server/credentials.hpp"

#include <sodium.h>

#include <cctype>
#include <cstdlib>
#include <vector>

namespace caravan::sync::server {

namespace {

void ensure_sodium() {
    // sodium_init is idempotent and thread-safe; it fails only without an entropy source.
    if (sodium_init() < 0) {
        std::abort();
    }
}

} // namespace

std::string new_enrollment_code() {
    ensure_sodium();
    std::string code;
    for (std::size_t i = 0; i < k_code_length; ++i) {
        if (i > 0 && i % 3 == 0) {
            code += '-';
        }
        code += k_code_alphabet[randombytes_uniform(
            static_cast<std::uint32_t>(k_code_alphabet.size()))];
    }
    return code;
}

std::optional<std::string> normalize_code(std::string_view input) {
    if (input.size() > 64) {
        return std::nullopt;
    }
    std::string code;
    for (char c : input) {
        if (c == '-' || c == ' ') {
            continue;
        }
        char upper = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (k_code_alphabet.find(upper) == std::string_view::npos) {
            return std::nullopt;
        }
        code += upper;
    }
    if (code.size() != k_code_length) {
        return std::nullopt;
    }
    return code;
}

std::string random_hex(std::size_t bytes) {
    ensure_sodium();
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string hex(bytes * 2, '0');
    sodium_bin2hex(hex.data(), hex.size() + 1, raw.data(), raw.size());
    return hex;
}

std::string new_token() {
    return random_hex(k_token_hex_length / 2);
}

bool is_token_syntax(std::string_view text) {
    if (text.size() != k_token_hex_length) {
        return false;
    }
    for (char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::string hash_secret(std::string_view secret) {
    ensure_sodium();
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(secret.data()),
                       secret.size());
    std::string hex(sizeof digest * 2, '0');
    sodium_bin2hex(hex.data(), hex.size() + 1, digest, sizeof digest);
    return hex;
}

bool same_hash(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace caravan::sync::server
