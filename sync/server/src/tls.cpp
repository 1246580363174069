#include "tls.hpp"

#include "caravan/sync/server/data_dir.hpp"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "connection_guard.hpp"

namespace caravan::sync::server {

namespace {

// The oldest queued OpenSSL error, in OpenSSL's words (no file content, only a reason), and the
// queue emptied so the next check starts clean.
std::string openssl_reason() {
    unsigned long code = ERR_get_error();
    std::string reason;
    if (code != 0) {
        const char* text = ERR_reason_error_string(code);
        reason = text ? text : "unknown OpenSSL error";
    }
    ERR_clear_error();
    return reason.empty() ? std::string("not usable") : reason;
}

Result<void> readable(const std::filesystem::path& file, std::string_view option) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        return fail(ErrorCode::invalid_input,
                    std::string(option) + ": " + file.string() + " is not a readable file");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in || in.peek() == std::ifstream::traits_type::eof()) {
        return fail(ErrorCode::invalid_input, std::string(option) + ": cannot read " +
                                                  file.string() + " (missing permission or empty)");
    }
    return {};
}

// The key's secrecy is the server's identity: a key file that other users of the machine may
// read (or write) is refused, with the fix.
Result<void> private_to_owner(const std::filesystem::path& file) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        return {}; // readable() already judged a missing file
    }
    if ((st.st_mode & (S_IROTH | S_IWOTH | S_IXOTH)) != 0) {
        return fail(ErrorCode::invalid_input,
                    "--tls-key: " + file.string() + " is readable by every user of this machine (mode " +
                        mode_text(st.st_mode) + "); make it private: chmod 600 " + file.string());
    }
    return {};
}

// TLS 1.2 suites with forward secrecy (ECDHE) and an AEAD cipher only: no CBC, no SHA-1 MAC, no
// RSA key exchange, no DHE. TLS 1.3's own suites are all AEAD.
constexpr const char* k_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* k_tls13_suites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// A passphrase-protected key must fail, not make the server wait for someone at a terminal.
int no_passphrase(char*, int, int, void*) {
    return 0;
}

} // namespace

Result<std::unique_ptr<httplib::Server>> make_http_server(const std::filesystem::path& tls_cert,
                                                          const std::filesystem::path& tls_key,
                                                          std::shared_ptr<ConnectionGuard> guard) {
    if (tls_cert.empty() && tls_key.empty()) {
        return std::make_unique<GuardedServer>(std::move(guard));
    }
    if (tls_cert.empty() || tls_key.empty()) {
        return fail(ErrorCode::invalid_input,
                    "--tls-cert and --tls-key go together: give both (HTTPS) or neither");
    }
    if (auto ok = readable(tls_cert, "--tls-cert"); !ok) {
        return tl::unexpected(ok.error());
    }
    if (auto ok = readable(tls_key, "--tls-key"); !ok) {
        return tl::unexpected(ok.error());
    }
    ERR_clear_error();
    std::string problem;
    auto server = std::make_unique<GuardedSslServer>(std::move(guard), [&](SSL_CTX& ctx) {
        if (SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION) != 1) {
            problem = "cannot require TLS 1.2: " + openssl_reason();
            return false;
        }
        SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                      SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (SSL_CTX_set_cipher_list(&ctx, k_tls12_ciphers) != 1 ||
            SSL_CTX_set_ciphersuites(&ctx, k_tls13_suites) != 1) {
            problem = "cannot set the TLS cipher suites: " + openssl_reason();
            return false;
        }
        SSL_CTX_set_default_passwd_cb(&ctx, &no_passphrase);
        if (SSL_CTX_use_certificate_chain_file(&ctx, tls_cert.c_str()) != 1) {
            problem = "--tls-cert: " + tls_cert.string() + " is not a PEM certificate chain (" +
                      openssl_reason() + ")";
            return false;
        }
        if (SSL_CTX_use_PrivateKey_file(&ctx, tls_key.c_str(), SSL_FILETYPE_PEM) != 1) {
            problem = "--tls-key: " + tls_key.string() +
                      " is not an unencrypted PEM private key (" + openssl_reason() + ")";
            return false;
        }
        if (SSL_CTX_check_private_key(&ctx) != 1) {
            problem = "--tls-key: " + tls_key.string() + " does not belong to the certificate in " +
                      tls_cert.string() + " (" + openssl_reason() + ")";
            return false;
        }
        return true;
    });
    if (!server->is_valid()) {
        return fail(ErrorCode::invalid_input,
                    problem.empty() ? "cannot set up TLS (" + openssl_reason() + ")" : problem);
    }
    // After the files were judged for what they are, so that a certificate given as the key
    // is named as such first.
    if (auto ok = private_to_owner(tls_key); !ok) {
        return tl::unexpected(ok.error());
    }
    return std::unique_ptr<httplib::Server>(std::move(server));
}

} // namespace caravan::sync::server
