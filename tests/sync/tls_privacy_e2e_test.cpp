// No personal data in logs or error messages (issue 5): two laptops record distinctive names,
// questions, advice and a phone number, then sync over HTTPS through every error this test can
// provoke — a wrong token, the server killed, concurrent edits of one field, a record the
// server refuses, a laptop restored from an older backup (rotation) — and every line the
// programs wrote (stdout and stderr of each `caravan` sync/enroll/status run, `sync log`, the
// server's own log across restarts) is searched for those strings.
#include "tls_support.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;
using namespace caravan::test::tls;

namespace {

// Strings that must never reach a log or an error message. Each is unusual enough that a hit
// cannot be a coincidence.
const std::vector<std::string> k_secrets = {
    "Айгерім Жақсыбекова",           // the person, inside the question
    "+7 701 555 01 99",              // her phone number
    "ұрланған малы 4471",            // the question's matter
    "прокуратураға шағым 8812",      // the advice
    "Шәмшибану екінші нұсқасы 2093", // an edit, on the other laptop (a conflict)
    "Қалпына келтірілген 6630",      // recorded on the restored copy (rotation)
};

struct Transcript {
    std::vector<std::pair<std::string, std::string>> parts; // what, text

    void add(const std::string& what, const ProcessResult& r) {
        parts.emplace_back(what + " (stdout)", r.out);
        parts.emplace_back(what + " (stderr)", r.err);
    }
    void add(const std::string& what, const std::string& text) { parts.emplace_back(what, text); }

    void require_clean() const {
        std::size_t bytes = 0;
        for (const auto& [what, text] : parts) {
            bytes += text.size();
            for (const std::string& secret : k_secrets) {
                INFO(what << " contains personal data:\n" << text);
                REQUIRE(text.find(secret) == std::string::npos);
            }
        }
        // The search ran over real output, not over nothing.
        REQUIRE(parts.size() > 20);
        REQUIRE(bytes > 2000);
    }
};

std::string question() {
    return k_secrets[0] + ", тел. " + k_secrets[1] + ": " + k_secrets[2];
}

void set_setting(const fs::path& db_path, std::string_view key, const std::string& value) {
    auto db = ok(storage::Database::open(db_path, {.create = false}));
    storage::Settings settings(db);
    REQUIRE(settings.set(key, value));
}

std::string get_setting(const fs::path& db_path, std::string_view key) {
    auto db = ok(storage::Database::open(db_path, {.create = false}));
    storage::Settings settings(db);
    return ok(settings.get(key)).value_or("");
}

} // namespace

TEST_CASE_METHOD(
    PkiDir,
    "tls privacy e2e: names, questions, advice and phone numbers never appear in any log "
    "or error message, through every provoked failure",
    "[sync][e2e][tls][privacy]") {
    auto [cert, key] = pki.leaf("server", "IP:127.0.0.1");
    const std::vector<std::string> tls_args = {"--tls-cert", cert.string(), "--tls-key",
                                               key.string()};
    auto server = std::make_unique<ServeProcess>(dir / "server", tls_args);
    REQUIRE(server->start());
    const int port = server->port();
    Transcript log;

    Laptop a(dir / "a.db");
    Laptop b(dir / "b.db");
    auto run = [&](const Laptop& l, const std::string& what, std::vector<std::string> args) {
        ProcessResult r = l.run(args);
        log.add(what, r);
        return r;
    };
    auto sync = [&](const Laptop& l, const std::string& what, std::vector<std::string> extra = {}) {
        ProcessResult r = l.sync(std::move(extra));
        log.add(what, r);
        return r;
    };
    for (Laptop* l : {&a, &b}) {
        l->must({"init", "--lawyer", "Test Lawyer", "--region", k_region});
        ProcessResult r =
            run(*l, "enroll",
                {"enroll", "--server", server->https_url(), "--code",
                 issue_code(server->data(), "Test Lawyer"), "--ca-file", pki.ca_pem.string()});
        REQUIRE(r.exit_code == 0);
    }
    a.start_field_day();
    std::string id =
        a.must_json({"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                     "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                     question(), "--advice", k_secrets[3], "--lang", "kk"})["id"];
    REQUIRE(sync(a, "first sync").exit_code == 0);
    REQUIRE(sync(b, "b first sync").exit_code == 0);

    // A wrong token: refused (exit 5), then put back.
    const std::string token = get_setting(a.db(), "sync.token");
    set_setting(a.db(), "sync.token", std::string(64, 'f'));
    a.must({"consult", "edit", id, "--advice", k_secrets[3] + " (толықтырылды)"});
    REQUIRE(sync(a, "sync with a wrong token").exit_code == 5);
    set_setting(a.db(), "sync.token", token);

    // The server killed: offline (exit 4) while an edit waits; then back on the same port.
    log.add("server log before the kill", server->err());
    server->kill9();
    REQUIRE(sync(a, "sync with the server down", {"--attempts", "2"}).exit_code == 4);
    server = std::make_unique<ServeProcess>(dir / "server", tls_args,
                                            "127.0.0.1:" + std::to_string(port));
    REQUIRE(server->start());

    // Concurrent edits of one field on both laptops: a conflict, listed (not logged).
    a.must({"consult", "edit", id, "--question", question() + " (a)"});
    b.must({"consult", "edit", id, "--question", k_secrets[4]});
    REQUIRE(sync(a, "sync with a conflicting edit").exit_code == 0);
    REQUIRE(sync(b, "b sync with a conflicting edit").exit_code == 0);
    REQUIRE(sync(a, "a sync after the conflict").exit_code == 0);
    REQUIRE(!a.must_json({"conflicts"}).empty());

    // A record in another region: the device refuses it (its message is searched too) ...
    REQUIRE(run(a, "village add in another region",
                {"village", "add", "Бөтен ауыл", "--region", "Ақтөбе обл."})
                .exit_code == 2);
    // ... and what a device recorded there before it was enrolled (or before this check
    // existed), made here by forgetting the role for a moment, the server refuses: a village
    // (out_of_scope), its visit and a consultation (parent_rejected).
    const std::string role = get_setting(a.db(), "sync.role");
    set_setting(a.db(), "sync.role", "coordinator");
    a.must({"village", "add", "Бөтен ауыл", "--region", "Ақтөбе обл."});
    a.must({"visit", "start", "--village", "Бөтен ауыл", "--date", "2024-05-15"});
    set_setting(a.db(), "sync.role", role);
    REQUIRE(run(a, "consult add under a visit in another region",
                {"consult", "add", "--gender", "male", "--age", "59+", "--category", "older",
                 "--topic", "land", "--outcome", "advice", "--question", question(), "--advice",
                 k_secrets[3], "--lang", "kk"})
                .exit_code == 2);
    set_setting(a.db(), "sync.role", "coordinator");
    a.must({"consult", "add", "--gender", "male", "--age", "59+", "--category", "older", "--topic",
            "land", "--outcome", "advice", "--question", question(), "--advice", k_secrets[3],
            "--lang", "kk"});
    set_setting(a.db(), "sync.role", role);
    REQUIRE(sync(a, "sync with refused records").exit_code == 0);
    ProcessResult status = run(a, "status", {"status"});
    REQUIRE(status.out.find("refused by the server") != std::string::npos);
    run(a, "status --json", {"status", "--json"});

    // Restored from an older backup and used: rotation.
    fs::path backup = dir / "a-backup.db";
    a.must({"backup", backup.string()});
    a.must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-16"});
    a.must({"consult", "add", "--gender", "female", "--age", "23-27", "--category", "unemployed",
            "--topic", "land", "--outcome", "advice", "--question", question(), "--lang", "kk"});
    REQUIRE(sync(a, "sync before the restore").exit_code == 0);
    a.must({"restore", backup.string()});
    a.must({"visit", "start", "--village", "Қызылжар", "--date", "2024-05-17"});
    a.must({"consult", "add", "--gender", "female", "--age", "23-27", "--category", "unemployed",
            "--topic", "land", "--outcome", "advice", "--question", k_secrets[5], "--lang", "kk"});
    ProcessResult rotated = sync(a, "sync that rotates");
    REQUIRE(rotated.exit_code == 0);
    REQUIRE(rotated.out.find("re-registered") != std::string::npos);

    REQUIRE(sync(a, "verify a", {"--verify"}).exit_code == 0);
    REQUIRE(sync(b, "verify b", {"--verify"}).exit_code == 0);
    // The laptops do hold the data: the search below is for leaks, not for absence.
    REQUIRE(b.must_json({"consult", "list"}).dump().find(k_secrets[5]) != std::string::npos);

    for (Laptop* l : {&a, &b}) {
        run(*l, "sync log", {"sync", "log"});
        run(*l, "sync log --json", {"sync", "log", "--json", "--limit", "100"});
    }
    REQUIRE(server->stop() == 0);
    log.add("server log", server->err());
    REQUIRE(log.parts.back().second.find("route=/v1/rotate status=200") != std::string::npos);
    log.require_clean();
}
