#pragma once
// The listening object of the server: cpp-httplib's plain Server, or its SSLServer set up from
// the operator's certificate and key files (private to sync/server).
//
// Contract:
// - The object serves its connections through `guard` (connection_guard.hpp): admission per
//   address, request deadlines, header limits.
// - Both paths empty: a plain httplib::Server. Both set: an httplib::SSLServer whose context
//   offers TLS 1.2 and later only, TLS 1.2 with ECDHE key exchange and AEAD ciphers only
//   (AES-GCM, ChaCha20-Poly1305: no CBC, no SHA-1), no TLS compression, no renegotiation, and
//   carries the given certificate chain (PEM, leaf first) and private key (PEM, not
//   passphrase-protected: the server never prompts).
// - A key file that other users may read or write (any "other" permission bit): invalid_input
//   naming the file and the fix (chmod 600).
// - One without the other, an unreadable file, a file that is not PEM of the right kind, or a
//   key that does not belong to the certificate: invalid_input, the message naming the option
//   (--tls-cert / --tls-key) and never the key's content.

#include <filesystem>
#include <memory>

#include "caravan/storage/result.hpp"

namespace httplib {
class Server;
}

namespace caravan::sync::server {

class ConnectionGuard;

[[nodiscard]] Result<std::unique_ptr<httplib::Server>>
make_http_server(const std::filesystem::path& tls_cert, const std::filesystem::path& tls_key,
                 std::shared_ptr<ConnectionGuard> guard);

} // namespace caravan::sync::server
