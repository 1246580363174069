// The HTTPS profile of `caravan-server serve`, checked with real handshakes by the openssl CLI:
// TLS 1.2 with ECDHE and AEAD ciphers or TLS 1.3 work; CBC and SHA-1 suites and TLS 1.1 are
// refused. A key file other users can read is refused before anything listens, and an existing
// data directory open to other users is tightened to 0700 with a line on stderr.
#include "tls_support.hpp"

#include <sys/stat.h>

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;
using namespace caravan::test::tls;

namespace {

// One handshake with `openssl s_client` and the given protocol/cipher options; true when it
// completed (s_client then reads EOF from stdin and exits 0).
bool handshake(int port, const fs::path& ca, const std::vector<std::string>& options,
               std::string* detail = nullptr) {
    std::vector<std::string> argv = {openssl_binary(), "s_client", "-connect",
                                     "127.0.0.1:" + std::to_string(port), "-CAfile", ca.string(),
                                     "-verify_return_error", "-brief"};
    argv.insert(argv.end(), options.begin(), options.end());
    ProcessResult r = run_process(argv, {}, "", std::chrono::seconds(20));
    if (detail) {
        *detail = describe(r);
    }
    return !r.timed_out && r.exit_code == 0;
}

unsigned mode_of(const fs::path& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

} // namespace

TEST_CASE_METHOD(
    HttpsServer,
    "tls profile: TLS 1.2 ECDHE with AES-GCM or ChaCha20 and TLS 1.3 work, CBC and SHA-1 "
    "suites and TLS 1.1 are refused",
    "[sync][e2e][tls]") {

    std::string detail;
    for (const std::vector<std::string>& modern :
         {std::vector<std::string>{"-tls1_3"},
          {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"},
          {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"},
          {"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"}}) {
        INFO(modern.back());
        CHECK(handshake(server.port(), pki.ca_pem, modern, &detail));
        INFO(detail);
    }
    for (const std::string weak :
         {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256",
          "ECDHE-ECDSA-AES256-SHA384"}) {
        bool completed = handshake(server.port(), pki.ca_pem, {"-tls1_2", "-cipher", weak}, &detail);
        INFO(weak << ": " << detail);
        CHECK_FALSE(completed);
    }
    bool old = handshake(server.port(), pki.ca_pem, {"-tls1_1", "-cipher", "ALL:@SECLEVEL=0"},
                         &detail);
    INFO("TLS 1.1: " << detail);
    CHECK_FALSE(old);
    REQUIRE(server.running()); // refused handshakes do not hurt the server
    CHECK(handshake(server.port(), pki.ca_pem, {"-tls1_3"}));
    REQUIRE(server.stop() == 0);
}

TEST_CASE_METHOD(
    PkiDir,
    "tls profile: a key file other users can read is refused with exit 2, naming the file "
    "and chmod 600",
    "[sync][e2e][tls]") {
    auto [cert, key] = pki.leaf("server", "IP:127.0.0.1");
    fs::path data = dir / "server";
    for (unsigned mode : {0644u, 0604u, 0606u}) {
        REQUIRE(::chmod(key.c_str(), mode) == 0);
        ProcessResult r = serve_once(data, tls_options(cert, key));
        INFO(std::oct << mode << std::dec << ": " << describe(r));
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(key.string()) != std::string::npos);
        CHECK(r.err.find("chmod 600") != std::string::npos);
        CHECK(r.out.find("listening") == std::string::npos);
    }
    // Owner-only, or shared with the group (Debian's ssl-cert group): served.
    for (unsigned mode : {0600u, 0400u, 0640u}) {
        REQUIRE(::chmod(key.c_str(), mode) == 0);
        ServeProcess server(dir / ("served-" + std::to_string(mode)), tls_options(cert, key));
        INFO(std::oct << mode << std::dec << ": " << server.err());
        REQUIRE(server.start());
        REQUIRE(server.stop() == 0);
    }
}

TEST_CASE("serve: an existing data directory left 0755 is tightened to 0700 and stderr says so",
          "[sync][e2e]") {
    TempDir dir;
    fs::path data = dir / "server";
    fs::create_directories(data);
    REQUIRE(::chmod(data.c_str(), 0755) == 0);
    ServeProcess server(data, {});
    REQUIRE(server.start());
    CHECK(mode_of(data) == 0700);
    CHECK(server.err().find("tightened to 0700") != std::string::npos);
    CHECK(server.err().find("0755") != std::string::npos);
    REQUIRE(server.stop() == 0);
}
