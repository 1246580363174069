#pragma once
// HTTPS test helpers: certificates made with the openssl CLI (a private CA and leaves it signs),
// `caravan-server serve` with extra arguments in the background, enrollment codes.

#include "e2e_support.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace caravan::test::tls {

using namespace caravan::test::e2e;

// The openssl CLI from PATH (run_process does not search it).
inline std::string openssl_binary() {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= dirs.size();) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos) {
            end = dirs.size();
        }
        fs::path candidate = fs::path(dirs.substr(start, end - start)) / "openssl";
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate.string();
        }
        start = end + 1;
    }
    FAIL("the openssl CLI is not installed (scripts/install-deps.sh installs it)");
    return {};
}

inline void openssl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {openssl_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    ProcessResult r = run_process(argv, {}, {}, std::chrono::seconds(60));
    INFO("openssl " << args.front() << ": " << describe(r));
    REQUIRE(r.exit_code == 0);
}

inline void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

// A private CA and certificates it signs, in `dir`.
struct Pki {
    fs::path dir;
    fs::path ca_pem, ca_key;

    explicit Pki(fs::path d) : dir(std::move(d)) {
        fs::create_directories(dir);
        ca_pem = dir / "ca.pem";
        ca_key = dir / "ca.key";
        openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", ca_key.string(), "-out", ca_pem.string(), "-days", "2", "-subj",
                 "/CN=Caravan Test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign"});
    }

    // A leaf certificate for `san` (e.g. "IP:127.0.0.1"); returns {cert, key}.
    std::pair<fs::path, fs::path> leaf(const std::string& name, const std::string& san) {
        fs::path key = dir / (name + ".key");
        fs::path csr = dir / (name + ".csr");
        fs::path pem = dir / (name + ".pem");
        fs::path ext = dir / (name + ".ext");
        openssl({"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 key.string(), "-out", csr.string(), "-subj", "/CN=" + name});
        write_text(ext, "subjectAltName=" + san +
                            "\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n");
        openssl({"x509", "-req", "-in", csr.string(), "-CA", ca_pem.string(), "-CAkey",
                 ca_key.string(), "-CAcreateserial", "-out", pem.string(), "-days", "2", "-extfile",
                 ext.string()});
        return {pem, key};
    }
};

// `caravan-server serve` with extra arguments; start() returns false (and keeps the exit
// status and stderr) when the server exits instead of listening.
class ServeProcess {
  public:
    ServeProcess(fs::path data, std::vector<std::string> extra, std::string listen = "127.0.0.1:0")
        : m_data(std::move(data)), m_extra(std::move(extra)), m_listen(std::move(listen)) {}

    bool start() {
        fs::create_directories(m_data.parent_path());
        m_out = m_data.string() + ".out";
        m_err = m_data.string() + ".err";
        std::vector<std::string> argv = {binary("caravan-server").string(),
                                         "serve",
                                         "--data",
                                         m_data.string(),
                                         "--listen",
                                         m_listen,
                                         "--threads",
                                         "4"};
        argv.insert(argv.end(), m_extra.begin(), m_extra.end());
        m_proc = std::make_unique<BackgroundProcess>(argv, std::map<std::string, std::string>{},
                                                     m_out, m_err);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        for (;;) {
            if (auto port = listening_port(m_out)) {
                m_port = *port;
                return true;
            }
            if (!m_proc->running()) {
                return false;
            }
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    [[nodiscard]] bool running() { return m_proc && m_proc->running(); }
    [[nodiscard]] int port() const { return m_port; }
    [[nodiscard]] std::string https_url() const {
        return "https://127.0.0.1:" + std::to_string(m_port);
    }
    [[nodiscard]] std::string err() const { return read_file(m_err); }
    [[nodiscard]] const fs::path& data() const { return m_data; }
    void kill9() {
        m_proc->kill_now(SIGKILL);
        (void)m_proc->wait(std::chrono::seconds(20));
    }
    // SIGTERM, and the exit status (0 is a clean stop).
    std::optional<int> stop() {
        m_proc->kill_now(SIGTERM);
        return m_proc->wait(std::chrono::seconds(20));
    }

  private:
    fs::path m_data, m_out, m_err;
    std::vector<std::string> m_extra;
    std::string m_listen;
    std::unique_ptr<BackgroundProcess> m_proc;
    int m_port = 0;
};

// `serve`'s options for a certificate and its key.
inline std::vector<std::string> tls_options(const fs::path& cert, const fs::path& key) {
    return {"--tls-cert", cert.string(), "--tls-key", key.string()};
}

// A test's directory with a private CA in it (TEST_CASE_METHOD(PkiDir, ...)).
struct PkiDir {
    TempDir dir;
    Pki pki{dir / "pki"};
};

// Where most HTTPS tests start (TEST_CASE_METHOD(HttpsServer, ...)): a directory, a private CA,
// a certificate for 127.0.0.1 it signed (`cert`, `key`) and `caravan-server serve` with them,
// started.
struct HttpsServer : PkiDir {
    std::pair<fs::path, fs::path> leaf = pki.leaf("server", "IP:127.0.0.1");
    fs::path& cert = leaf.first;
    fs::path& key = leaf.second;
    ServeProcess server{dir / "server", tls_options(cert, key)};
    HttpsServer() { REQUIRE(server.start()); }
};

inline std::string issue_code(const fs::path& data, const std::string& lawyer) {
    ProcessResult r = run_process({binary("caravan-server").string(), "enroll-code", "--data",
                                   data.string(), "--lawyer", lawyer, "--region", k_region});
    INFO(describe(r));
    REQUIRE(r.exit_code == 0);
    return last_line(r.out);
}

inline ProcessResult serve_once(const fs::path& data, std::vector<std::string> extra,
                                const std::string& listen = "127.0.0.1:0") {
    std::vector<std::string> argv = {
        binary("caravan-server").string(), "serve", "--data", data.string(), "--listen", listen};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_process(argv, {}, {}, std::chrono::seconds(20));
}

} // namespace caravan::test::tls
