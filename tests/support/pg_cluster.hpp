#pragma once
// A throwaway PostgreSQL cluster for tests of the server's PostgreSQL store.
//
// PgCluster::shared() makes one per test process on first use: initdb into a fresh temporary
// directory (as the unprivileged `postgres` user when the tests run as root: PostgreSQL refuses
// to run as root), trust authentication for the role `caravan`, no TCP (a Unix socket in that
// directory), stopped and removed when the process exits. database() creates a fresh empty
// database per test and returns its postgresql:// URL.
//
// Where Debian's PostgreSQL binaries are absent, available() is false and a test that needs
// them is skipped with a visible warning (CARAVAN_REQUIRE_POSTGRES), never passed silently.

#include <filesystem>
#include <string>

namespace caravan::test {

class PgCluster {
  public:
    // The process's cluster, started on first call.
    static PgCluster& shared();
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    [[nodiscard]] bool available() const { return m_running; }
    // Why the cluster is not available ("" when it is).
    [[nodiscard]] const std::string& why_not() const { return m_why_not; }
    // Creates an empty database with a fresh name and returns its URL.
    [[nodiscard]] std::string database();
    // The URL of an existing database.
    [[nodiscard]] std::string url(const std::string& name) const;
    [[nodiscard]] const std::filesystem::path& socket_dir() const { return m_dir; }

  private:
    PgCluster();
    std::filesystem::path m_bin;
    std::filesystem::path m_dir;
    bool m_running = false;
    std::string m_why_not;
    int m_next = 0;
};

// The store the server tests run against: "" for the embedded store, or the URL of a fresh
// database when the environment says CARAVAN_TEST_STORE=postgresql (CTest runs the server and
// end-to-end tests both ways: tests/CMakeLists.txt). Throws when PostgreSQL was asked for and
// is not there: that run fails, loudly.
[[nodiscard]] bool postgresql_requested();
[[nodiscard]] std::string store_under_test();

} // namespace caravan::test

// Skips the rest of a test case, visibly, when there is no PostgreSQL to test against.
#define CARAVAN_REQUIRE_POSTGRES()                                                                 \
    do {                                                                                           \
        if (!::caravan::test::PgCluster::shared().available()) {                                   \
            WARN("SKIPPED (no PostgreSQL): " << ::caravan::test::PgCluster::shared().why_not());   \
            return;                                                                                \
        }                                                                                          \
    } while (false)

// Skips, visibly, a test of what only the embedded store has (its file: backup, restore, check)
// in the PostgreSQL run.
#define CARAVAN_EMBEDDED_STORE_ONLY(why)                                                           \
    do {                                                                                           \
        if (::caravan::test::postgresql_requested()) {                                             \
            WARN("SKIPPED on PostgreSQL (embedded store only): " << why);                          \
            return;                                                                                \
        }                                                                                          \
    } while (false)
