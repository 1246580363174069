#include "pg_cluster.hpp"

#include <cstdlib>
#include <stdexcept>

#include <pwd.h>
#include <unistd.h>

#include "process.hpp"

namespace caravan::test {

namespace fs = std::filesystem;

namespace {

// Debian's layout: /usr/lib/postgresql/<major>/bin; the highest major wins.
fs::path find_bin_dir() {
    fs::path best;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        fs::path bin = entry.path() / "bin";
        if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl") &&
            (best.empty() || entry.path().filename() > best.parent_path().filename())) {
            best = bin;
        }
    }
    return best;
}

// argv run as `postgres` when we are root (runuser), as ourselves otherwise.
std::vector<std::string> as_owner(std::vector<std::string> argv) {
    if (::geteuid() == 0) {
        argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
    }
    return argv;
}

} // namespace

PgCluster& PgCluster::shared() {
    static PgCluster cluster;
    return cluster;
}

PgCluster::PgCluster() {
    m_bin = find_bin_dir();
    if (m_bin.empty()) {
        m_why_not = "no /usr/lib/postgresql/*/bin/initdb (install Debian's postgresql package:"
                    " scripts/install-deps.sh)";
        return;
    }
    if (::geteuid() == 0 && !::getpwnam("postgres")) {
        m_why_not = "running as root and there is no `postgres` user to run the cluster";
        return;
    }
    std::string base = fs::temp_directory_path() / "caravan-pg-XXXXXX";
    if (!::mkdtemp(base.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    m_dir = base;
    if (::geteuid() == 0) {
        const passwd* pw = ::getpwnam("postgres");
        if (::chown(m_dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("cannot give the cluster directory to postgres");
        }
    }
    const std::string data = (m_dir / "data").string();
    auto init = run_process(as_owner({(m_bin / "initdb").string(), "-D", data, "-A", "trust", "-U",
                                      "caravan", "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"}),
                            {}, {}, std::chrono::seconds(120));
    if (init.exit_code != 0) {
        throw std::runtime_error("initdb failed: " + init.err);
    }
    // Small and quick: no TCP, no fsync (a test cluster is thrown away), enough connections for
    // two servers' pools.
    const std::string options = "-k " + m_dir.string() +
                                " -c listen_addresses='' -c fsync=off -c max_connections=200"
                                " -c shared_buffers=32MB";
    auto start = run_process(as_owner({(m_bin / "pg_ctl").string(), "-D", data, "-o", options, "-l",
                                       (m_dir / "log").string(), "-w", "start"}),
                             {}, {}, std::chrono::seconds(120));
    if (start.exit_code != 0) {
        throw std::runtime_error("pg_ctl start failed: " + start.err + read_file(m_dir / "log"));
    }
    m_running = true;
}

PgCluster::~PgCluster() {
    if (m_running) {
        (void)run_process(as_owner({(m_bin / "pg_ctl").string(), "-D", (m_dir / "data").string(),
                                    "-w", "stop", "-m", "immediate"}),
                          {}, {}, std::chrono::seconds(60));
    }
    if (!m_dir.empty()) {
        std::error_code ec;
        fs::remove_all(m_dir, ec);
    }
}

std::string PgCluster::url(const std::string& name) const {
    return "postgresql:///" + name + "?host=" + m_dir.string() + "&user=caravan";
}

std::string PgCluster::database() {
    if (!m_running) {
        throw std::runtime_error("no PostgreSQL cluster: " + m_why_not);
    }
    const std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++m_next);
    auto made =
        run_process({(m_bin / "createdb").string(), "-h", m_dir.string(), "-U", "caravan", name},
                    {}, {}, std::chrono::seconds(60));
    if (made.exit_code != 0) {
        throw std::runtime_error("createdb failed: " + made.err);
    }
    return url(name);
}

bool postgresql_requested() {
    const char* store = std::getenv("CARAVAN_TEST_STORE");
    return store && std::string(store) == "postgresql";
}

std::string store_under_test() {
    if (!postgresql_requested()) {
        return "";
    }
    PgCluster& cluster = PgCluster::shared();
    if (!cluster.available()) {
        throw std::runtime_error("CARAVAN_TEST_STORE=postgresql but no PostgreSQL: " +
                                 cluster.why_not());
    }
    return cluster.database();
}

} // namespace caravan::test
