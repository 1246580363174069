#include "caravan/client/ids.hpp"

#include <sodium.h>
#include <pthread.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>

namespace caravan::client {

namespace {

std::string format_uuid(const std::array<unsigned char, 16>& b) {
    // By hand rather than snprintf: ids are made for every record, and the formatted print
    // cost more than the rest of making the id.
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < b.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out.push_back('-');
        }
        out.push_back(k_hex[b[i] >> 4]);
        out.push_back(k_hex[b[i] & 0x0f]);
    }
    return out;
}

void fill_random(unsigned char* data, size_t size) {
    size_t got = 0;
    while (got < size) {
        ssize_t n = getrandom(data + got, size - got, 0);
        if (n < 0) {
            throw std::runtime_error("getrandom failed"); // a broken kernel: a bug, not input
        }
        got += static_cast<size_t>(n);
    }
}

// Random bytes for ids, drawn from the kernel 4 KiB at a time: one getrandom call per id was a
// tenth of the cost of recording a consultation. A forked child must not hand out the bytes its
// parent hands out too, so the child forgets the buffer (pthread_atfork).
struct RandomPool {
    std::array<unsigned char, 4096> bytes{};
    size_t used = bytes.size();
};
thread_local RandomPool t_pool;

void forget_pool_in_child() { t_pool.used = t_pool.bytes.size(); }

void take_random(unsigned char* data, size_t size) {
    static const bool registered = [] {
        return pthread_atfork(nullptr, nullptr, forget_pool_in_child) == 0;
    }();
    if (!registered) {
        fill_random(data, size);
        return;
    }
    if (t_pool.bytes.size() - t_pool.used < size) {
        fill_random(t_pool.bytes.data(), t_pool.bytes.size());
        t_pool.used = 0;
    }
    std::copy_n(t_pool.bytes.data() + t_pool.used, size, data);
    t_pool.used += size;
}

} // namespace

std::string uuid_v7(std::int64_t unix_ms) {
    std::array<unsigned char, 16> b{};
    take_random(b.data(), b.size());
    auto ms = static_cast<std::uint64_t>(unix_ms);
    for (int i = 0; i < 6; ++i) {
        b[static_cast<size_t>(i)] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
    }
    b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));
    return format_uuid(b);
}

std::string uuid_from_key(std::string_view name_space, std::string_view key) {
    std::string input;
    input.reserve(name_space.size() + 1 + key.size());
    input.append(name_space).push_back('\0');
    input.append(key);
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(input.data()),
                       input.size());
    std::array<unsigned char, 16> b{};
    std::copy_n(digest.begin(), 16, b.begin());
    b[6] = static_cast<unsigned char>(0x80 | (b[6] & 0x0f));
    b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));
    return format_uuid(b);
}

bool is_uuid(std::string_view t) {
    if (t.size() != 36) {
        return false;
    }
    for (size_t i = 0; i < t.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = t[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::string sha256_hex(std::string_view data) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(data.data()),
                       data.size());
    std::string hex(digest.size() * 2, '0');
    sodium_bin2hex(hex.data(), hex.size() + 1, digest.data(), digest.size());
    return hex;
}

std::string short_id(std::string_view id) {
    return std::string(id.size() > 8 ? id.substr(id.size() - 8) : id);
}

} // namespace caravan::client
