// Real `caravan-server` and `caravan` processes: a consultation deleted on one laptop while
// another edited it is brought back with `caravan consult undelete`; after a sync the record is
// visible again on the other laptop and on the server, with the edit the delete had hidden.
#include "e2e_inspect.hpp"
#include "e2e_support.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::e2e;

namespace {

// The server's own projection of a consultation: deleted or not.
bool deleted_on_server(const Server& server, const std::string& id) {
    auto store = inspect(server);
    auto stmt = ok(
        store->database().prepare("SELECT coalesce(deleted, 0) FROM consultations WHERE id = ?"));
    stmt.bind(1, id);
    REQUIRE(ok(stmt.step()));
    return stmt.column_int(0) != 0;
}

} // namespace

TEST_CASE("e2e undelete: a record deleted against an edit comes back on every device and the "
          "server after a sync",
          "[e2e][undelete]") {
    TempDir dir;
    Server server(dir / "server");
    Laptop a(dir / "a.db"), b(dir / "b.db");
    a.setup(server, "Lawyer A");
    b.setup(server, "Lawyer B");
    a.start_field_day();
    json c = a.must_json({"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                          "unemployed", "--topic", "land", "--outcome", "advice", "--question",
                          "жер дауы", "--lang", "kk"});
    const std::string id = c["id"];
    a.must_sync();
    b.must_sync();

    // Offline: a deletes, b edits; both sync.
    a.must({"consult", "rm", id});
    b.must({"consult", "edit", id, "--advice", "b толықтырды"});
    b.must_sync();
    a.must_sync();
    b.must_sync();
    for (const Laptop* l : {&a, &b}) {
        REQUIRE(l->run({"consult", "show", id}).exit_code == 2);
        json conflicts = l->must_json({"conflicts"});
        REQUIRE(conflicts.size() == 1);
        CHECK(conflicts[0]["kind"] == "delete_vs_edit");
        CHECK(conflicts[0]["won"]["value"] == true);
    }
    CHECK(deleted_on_server(server, id));

    // The coordinator's remedy, from b: undelete, sync; a syncs.
    b.must({"consult", "undelete", id.substr(id.size() - 8)});
    b.must_sync();
    a.must_sync();
    for (const Laptop* l : {&a, &b}) {
        json shown = l->must_json({"consult", "show", id});
        CHECK(shown["advice"] == "b толықтырды");
        CHECK(shown["question"] == "жер дауы");
        // The undelete saw both sides: the conflict is settled on every laptop.
        CHECK(l->must_json({"conflicts"}).empty());
    }
    CHECK_FALSE(deleted_on_server(server, id));
    CHECK(ok(inspect(server)->feed().conflicts()).empty()); // settled on the server too
    CHECK(a.fingerprint() == b.fingerprint());
    require_exactly_once(server, {&a, &b});
}
