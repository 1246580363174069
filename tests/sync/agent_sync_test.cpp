// The sync agent's push/pull logic against an in-memory protocol server and a fault-injecting
// transport (agent_fake.hpp). Each lessons.md failure has a test here or in e2e_*_test.cpp.
#include "agent_fake.hpp"

#include "caravan/storage/transaction.hpp"
#include "caravan/sync/agent/backoff.hpp"
#include "caravan/sync/agent/curl_transport.hpp"

using namespace caravan;
using namespace caravan::test;
using namespace caravan::test::agent;

namespace {

std::string header_of(const ag::HttpRequest& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) {
            return v;
        }
    }
    return "<absent>";
}

// Push bodies as the server sees them, decompressed.
std::vector<json> push_bodies(const FakeTransport& t) {
    std::vector<json> out;
    for (const auto& r : t.sent) {
        if (r.target == "/v1/push") {
            auto plain = ok(sync::decompress(r.body, sync::Encoding::zstd));
            out.push_back(json::parse(plain));
        }
    }
    return out;
}

ag::SyncOptions small_batches(std::size_t bytes = 4096) {
    ag::SyncOptions o;
    o.tuning.initial_batch_bytes = bytes;
    o.tuning.min_batch_bytes = 512;
    o.tuning.initial_page = 20;
    o.tuning.min_page = 5;
    return o;
}

} // namespace

TEST_CASE_METHOD(
    OneFakeDevice,
    "sync agent: a sync with nothing to push costs one request, the pull, with the queue "
    "headers",
    "[agent]") {
    REQUIRE(a.sync().ok()); // pushes the device's own "device" event
    a.transport().sent.clear();

    ag::SyncReport r = a.sync();
    REQUIRE(r.ok());
    REQUIRE(r.requests == 1);
    REQUIRE(a.transport().sent.size() == 1);
    const auto& pull = a.transport().sent[0];
    REQUIRE(pull.target.starts_with("/v1/pull?after=1&"));
    REQUIRE(header_of(pull, "X-Caravan-Queue-Depth") == "0");
    REQUIRE(header_of(pull, "X-Caravan-Oldest-Unsynced").empty());
    REQUIRE(header_of(pull, "X-Caravan-Protocol") == "1");
    REQUIRE(header_of(pull, "X-Caravan-App-Version") == "caravan/test");
    REQUIRE(header_of(pull, "Authorization").starts_with("Bearer "));

    record_field_day(a.engine(), "Қызылжар", 2);
    a.transport().sent.clear();
    REQUIRE(a.sync().ok());
    REQUIRE(header_of(a.transport().sent[0], "X-Caravan-Queue-Depth") == "4");
    REQUIRE(header_of(a.transport().sent[0], "X-Caravan-Oldest-Unsynced").ends_with("Z"));
    REQUIRE(header_of(a.transport().sent[0], "Content-Encoding") == "zstd");
}

TEST_CASE_METHOD(
    OneFakeDevice,
    "sync agent: N events cost about N/batch requests, every event is acknowledged and "
    "carries its server_seq",
    "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 300);
    std::int64_t last = own_last_seq(a.engine());

    ag::SyncOptions o;
    o.tuning.initial_batch_bytes = 16 << 10;
    o.tuning.max_batch_bytes = 16 << 10; // a fixed size, to count
    ag::SyncReport r = a.sync(o);
    REQUIRE(r.ok());
    REQUIRE(r.pushed == last);
    REQUIRE(acked_seq(a.engine()) == last);
    REQUIRE(ok(a.engine().status()).unsynced == 0);

    auto bodies = push_bodies(a.transport());
    std::size_t total = 0;
    for (const auto& b : bodies) {
        REQUIRE(b.dump().size() <= (16u << 10) + 64);
        total += b.dump().size();
    }
    // About total/batch requests: bodies are filled, not dribbled.
    REQUIRE(bodies.size() <= total / (12u << 10) + 1);
    REQUIRE(a.transport().count_path("/v1/pull") == 1);

    for (std::int64_t s = 1; s <= last; ++s) {
        auto e = ok(a.engine().find_event(ok(a.engine().device()).id, s));
        REQUIRE(e);
        REQUIRE(e->server_seq);
    }
    require_exactly_once(server, a.engine());
}

TEST_CASE("sync agent: a failure at any request, of any kind, loses nothing and duplicates "
          "nothing, the next sync resumes after the last acknowledged batch",
          "[agent]") {
    for (Fault fault : k_all_faults) {
        // Requests of one clean run: a few pushes then pulls. Fail each in turn.
        for (int at = 0; at < 9; ++at) {
            DYNAMIC_SECTION("fault " << fault_name(fault) << " at request " << at) {
                TempDir dir;
                FakeServer server;
                Device a(dir / "a.db", server, "Арнат");
                Device b(dir / "b.db", server, "Болат");
                record_field_day(b.engine(), "Ақсу", 20);
                REQUIRE(b.sync().ok());
                record_field_day(a.engine(), "Қызылжар", 25);

                ag::SyncOptions o = small_batches();
                o.tuning.max_attempts = 1; // the failure ends the sync: resume is what we test
                a.transport().faults = [&](int i, const ag::HttpRequest&) {
                    return i == at ? fault : Fault::none;
                };
                ag::SyncReport first = a.sync(o);
                if (!first.ok()) {
                    REQUIRE((first.error->code == ErrorCode::offline ||
                             first.error->code == ErrorCode::timeout ||
                             first.error->code == ErrorCode::server));
                }
                a.transport().faults = {};
                std::int64_t acked_after_failure = acked_seq(a.engine());
                a.transport().sent.clear();
                ag::SyncReport second = a.sync(o);
                REQUIRE(second.ok());
                // Resumed, not restarted: nothing acknowledged before is sent again.
                for (const auto& body : push_bodies(a.transport())) {
                    REQUIRE(body["events"][0]["seq"].get<std::int64_t>() > acked_after_failure);
                }

                require_exactly_once(server, a.engine());
                REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));
                REQUIRE(b.sync().ok());
                REQUIRE(fingerprint(a.engine()) == fingerprint(b.engine()));
                REQUIRE(ok(ag::SyncAgent(a.engine(), a.transport(), a.env()).verify()).agree);
            }
        }
    }
}

TEST_CASE("sync agent: with retries, transient failures are ridden out within one sync",
          "[agent]") {
    for (Fault fault : k_all_faults) {
        DYNAMIC_SECTION("fault " << fault_name(fault)) {
            TempDir dir;
            FakeServer server;
            Device a(dir / "a.db", server, "Арнат");
            record_field_day(a.engine(), "Қызылжар", 40);
            // Every third request fails.
            a.transport().faults = [&](int i, const ag::HttpRequest&) {
                return i % 3 == 0 ? fault : Fault::none;
            };
            ag::SyncReport r = a.sync(small_batches());
            REQUIRE(r.ok());
            require_exactly_once(server, a.engine());
            REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));
        }
    }
}

TEST_CASE("sync agent: retries back off exponentially with full jitter and honour Retry-After",
          "[agent]") {
    SECTION("the backoff") {
        ag::Backoff b(ag::Millis(100), ag::Millis(1000), 7);
        std::vector<std::int64_t> ceilings;
        for (int i = 0; i < 8; ++i) {
            ag::Millis wait = b.next();
            ceilings.push_back(b.ceiling().count());
            REQUIRE(wait.count() >= 0);
            REQUIRE(wait <= b.ceiling());
        }
        REQUIRE(ceilings == std::vector<std::int64_t>{100, 200, 400, 800, 1000, 1000, 1000, 1000});
        b.reset();
        REQUIRE(b.next() <= ag::Millis(100));
        // Jitter: many draws are not all equal.
        std::set<std::int64_t> draws;
        for (int i = 0; i < 20; ++i) {
            b.reset();
            (void)b.next();
            draws.insert(b.next().count());
        }
        REQUIRE(draws.size() > 5);
    }
    SECTION("503 with Retry-After waits at least that long") {
        TempDir dir;
        FakeServer server;
        Device a(dir / "a.db", server, "Арнат");
        a.transport().faults = [](int i, const ag::HttpRequest&) {
            return i < 2 ? Fault::error_503 : Fault::none;
        };
        REQUIRE(a.sync().ok());
        REQUIRE(a.sleeps.size() == 2);
        REQUIRE(a.sleeps[0] >= ag::Millis(2000));
        REQUIRE(a.sleeps[1] >= ag::Millis(2000));
    }
    SECTION("offline waits grow") {
        TempDir dir;
        FakeServer server;
        Device a(dir / "a.db", server, "Арнат");
        a.transport().faults = [](int, const ag::HttpRequest&) { return Fault::offline; };
        ag::SyncOptions o;
        o.tuning.max_attempts = 4;
        o.tuning.retry_base = ag::Millis(1000);
        ag::SyncReport r = a.sync(o);
        REQUIRE(!r.ok());
        REQUIRE(r.error->code == ErrorCode::offline);
        REQUIRE(r.requests == 4);
        REQUIRE(a.sleeps.size() == 3);
        for (std::size_t i = 0; i < a.sleeps.size(); ++i) {
            REQUIRE(a.sleeps[i] <= ag::Millis(1000 << i));
        }
    }
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: the batch halves after a failure and doubles after a success, within "
                 "its bounds",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 200);
    ag::SyncOptions o;
    o.tuning.initial_batch_bytes = 16 << 10;
    o.tuning.min_batch_bytes = 2 << 10;
    o.tuning.max_batch_bytes = 64 << 10;
    // The first two pushes time out, then everything goes through.
    int pushes = 0;
    a.transport().faults = [&](int, const ag::HttpRequest& r) {
        if (r.target != "/v1/push") {
            return Fault::none;
        }
        return ++pushes <= 2 ? Fault::timeout_after : Fault::none;
    };
    REQUIRE(a.sync(o).ok());
    std::vector<std::size_t> sizes;
    for (const auto& b : push_bodies(a.transport())) {
        sizes.push_back(b.dump().size());
    }
    REQUIRE(sizes.size() >= 5);
    REQUIRE(sizes[0] > (12u << 10));       // ~16 KiB
    REQUIRE(sizes[1] <= (8u << 10) + 512); // halved
    REQUIRE(sizes[2] <= (4u << 10) + 512); // halved again
    REQUIRE(sizes[3] > sizes[2]);          // success: doubling
    REQUIRE(sizes[4] > sizes[3]);
    for (auto s : sizes) {
        REQUIRE(s <= (64u << 10) + 1024);
    }
    require_exactly_once(server, a.engine());
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: an event the server refuses is quarantined with its reason and never "
                 "blocks the events after it",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 10);
    std::string refused_entity;
    server.reject =
        [&](const storage::Event& e) -> std::optional<std::pair<std::string, std::string>> {
        if (e.entity_type == "consultation" && refused_entity.empty()) {
            refused_entity = e.entity_id;
        }
        if (e.entity_id == refused_entity) {
            return std::make_pair(std::string("out_of_scope"),
                                  std::string("the visit's region is outside this device's"));
        }
        return std::nullopt;
    };
    ag::SyncReport r = a.sync();
    REQUIRE(r.ok());
    REQUIRE(r.rejected == 1);
    REQUIRE(r.pushed == own_last_seq(a.engine()) - 1);
    REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));
    auto q = ok(ag::AgentState(a.engine().component_storage()).quarantined());
    REQUIRE(q.size() == 1);
    REQUIRE(q[0].direction == "push");
    REQUIRE(q[0].entity_id == refused_entity);
    REQUIRE(q[0].code == "out_of_scope");
    REQUIRE(ok(a.engine().status()).unsynced == 0);

    // Later work flows on, and a second sync does not resend the refused event.
    record_field_day(a.engine(), "Ақсу", 2);
    a.transport().sent.clear();
    REQUIRE(a.sync().ok());
    for (const auto& b : push_bodies(a.transport())) {
        for (const auto& e : b["events"]) {
            REQUIRE(e["entity_id"] != refused_entity);
        }
    }
    REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));
}

TEST_CASE_METHOD(
    TwoFakeDevices,
    "sync agent: the server's epoch changed (restored from a backup): the outbox goes "
    "first, lost acknowledged events are sent again, the cursor restarts at 0, nothing "
    "is lost",
    "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 5);
    REQUIRE(a.sync().ok());
    std::size_t backup = server.feed.size();
    record_field_day(b.engine(), "Ақсу", 5);
    REQUIRE(b.sync().ok());
    record_field_day(a.engine(), "Жаңаауыл", 5); // acknowledged, then lost by the restore
    REQUIRE(a.sync().ok());
    REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));

    server.restore(backup);
    record_field_day(a.engine(), "Талдыкөл", 2); // unsynced at the time of the restore

    ag::SyncReport r = a.sync();
    REQUIRE(r.ok());
    REQUIRE(ok(ag::AgentState(a.engine().component_storage()).epoch()) == server.epoch);
    require_exactly_once(server, a.engine());
    // b's events were lost by the server too; b resends them on its next sync.
    REQUIRE(b.sync().ok());
    require_exactly_once(server, b.engine());
    REQUIRE(a.sync().ok());
    REQUIRE(fingerprint(a.engine()) == fingerprint(b.engine()));
    REQUIRE(ok(ag::SyncAgent(a.engine(), a.transport(), a.env()).verify()).agree);
    REQUIRE(ok(ag::SyncAgent(b.engine(), b.transport(), b.env()).verify()).agree);
}

TEST_CASE_METHOD(
    TwoFakeDevices,
    "sync agent: a pull cursor only moves forward, in the same transaction as its page",
    "[agent]") {
    record_field_day(b.engine(), "Ақсу", 30);
    REQUIRE(b.sync().ok());
    REQUIRE(a.sync(small_batches()).ok());
    std::int64_t cursor = ok(ag::AgentState(a.engine().component_storage()).pull_cursor());
    REQUIRE(cursor == static_cast<std::int64_t>(server.feed.size()));

    SECTION("a page that cannot be applied whole is not applied at all") {
        record_field_day(b.engine(), "Ақсу", 3);
        REQUIRE(b.sync().ok());
        // The server now sends a's own event 1 with different content (a corrupted server
        // copy): the page fails, the cursor stays, no event of the page is kept.
        auto own = ok(a.engine().find_event(ok(a.engine().device()).id, 1));
        storage::Event evil = *own;
        evil.payload = sync::canonical_payload(
            json{{"fields",
                  {{"lawyer", "someone else"}, {"region", "Жамбыл обл."}, {"deleted", false}}}});
        evil.server_seq = static_cast<std::int64_t>(server.feed.size()) + 1;
        server.feed.push_back(evil);
        std::int64_t events_before = ok(a.engine().event_count());
        ag::SyncReport r = a.sync();
        REQUIRE(!r.ok());
        REQUIRE(r.error->code == ErrorCode::protocol);
        REQUIRE(ok(ag::AgentState(a.engine().component_storage()).pull_cursor()) == cursor);
        REQUIRE(ok(a.engine().event_count()) == events_before);
    }
    SECTION("an event of a newer schema stops the pull: upgrade required, cursor unchanged") {
        record_field_day(b.engine(), "Ақсу", 1);
        REQUIRE(b.sync().ok());
        server.feed.back().schema_version = 99;
        ag::SyncReport r = a.sync();
        REQUIRE(!r.ok());
        REQUIRE(r.error->code == ErrorCode::upgrade_required);
        REQUIRE(ok(ag::AgentState(a.engine().component_storage()).pull_cursor()) == cursor);
    }
    SECTION("an event this device cannot apply is set aside and the rest is applied") {
        record_field_day(b.engine(), "Ақсу", 2);
        REQUIRE(b.sync().ok());
        server.feed[server.feed.size() - 2].entity_type = "spaceship";
        ag::SyncReport r = a.sync();
        REQUIRE(r.ok());
        auto q = ok(ag::AgentState(a.engine().component_storage()).quarantined());
        REQUIRE(q.size() == 1);
        REQUIRE(q[0].direction == "pull");
        REQUIRE(q[0].entity_type == "spaceship");
        REQUIRE(ok(ag::AgentState(a.engine().component_storage()).pull_cursor()) ==
                static_cast<std::int64_t>(server.feed.size()));
    }
}

TEST_CASE_METHOD(TwoFakeDevices,
                 "sync agent: events the device may not see are skipped and the cursor moves past "
                 "them",
                 "[agent]") {
    std::string b_id = ok(b.engine().device()).id;
    server.visible = [&](const std::string& device, const storage::Event& e) {
        return device == b_id || e.device_id != b_id || e.entity_type == "device";
    };
    record_field_day(b.engine(), "Ақсу", 30);
    REQUIRE(b.sync().ok());
    REQUIRE(a.sync(small_batches()).ok());
    REQUIRE(ok(ag::AgentState(a.engine().component_storage()).pull_cursor()) ==
            static_cast<std::int64_t>(server.feed.size()));
    REQUIRE(ok(a.engine().status()).consultations == 0);
    REQUIRE(ok(ag::SyncAgent(a.engine(), a.transport(), a.env()).verify()).agree);
}

TEST_CASE_METHOD(
    OneFakeDevice,
    "sync agent: sequence_gap resumes from the server's acked_seq, and sequence_conflict "
    "starts a rotation that changes nothing until the server agrees",
    "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 5);
    REQUIRE(a.sync().ok());
    std::string id = ok(a.engine().device()).id;

    SECTION("gap: the server forgot the tail, the device sends it again") {
        std::int64_t last = own_last_seq(a.engine());
        for (std::int64_t s = 3; s <= last; ++s) {
            server.held.erase({id, s});
        }
        std::erase_if(server.feed,
                      [&](const storage::Event& e) { return e.device_id == id && e.seq >= 3; });
        server.acked[id] = 2;
        record_field_day(a.engine(), "Ақсу", 1);
        ag::SyncReport r = a.sync();
        REQUIRE(r.ok());
        require_exactly_once(server, a.engine());
        REQUIRE(server.acked[id] == own_last_seq(a.engine()));
    }
    SECTION("conflict: a database restored from an old backup decides to rotate; a server "
            "without POST /v1/rotate leaves everything as it was") {
        // The server holds seq 2 with other content than this device's seq 2. (The fake server
        // has no /v1/rotate: the whole rotation is tested against the real one in
        // rotate_e2e_test.cpp.)
        server.held.at({id, 2}).event.payload = "{\"fields\":{}}";
        ok(a.engine().rewind_push_ack(1));
        std::string before = ok(a.engine().fingerprint());
        std::int64_t last = own_last_seq(a.engine());
        ag::SyncReport r = a.sync();
        REQUIRE(!r.ok());
        REQUIRE(r.error->code == ErrorCode::protocol);
        REQUIRE(r.error->message.find("not_found") != std::string::npos);
        REQUIRE(acked_seq(a.engine()) == 1); // nothing moved
        REQUIRE(ok(a.engine().device()).id == id);
        REQUIRE(own_last_seq(a.engine()) == last);
        REQUIRE(ok(a.engine().fingerprint()) == before);
        auto pending = ok(ag::AgentState(a.engine().component_storage()).pending_rotation());
        REQUIRE(pending);
        REQUIRE(pending->from_seq == 2); // the fake names no seq: acked + 1
        REQUIRE(pending->new_id != id);
        // The next sync asks again with the same new id before sending anything.
        std::string chosen = pending->new_id;
        REQUIRE(!a.sync().ok());
        REQUIRE(ok(ag::AgentState(a.engine().component_storage()).pending_rotation())->new_id == chosen);
    }
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: refusals the device cannot fix stop at once, without retries",
                 "[agent]") {
    SECTION("revoked token: auth") {
        server.tokens.clear();
        ag::SyncReport r = a.sync();
        REQUIRE(r.error->code == ErrorCode::auth);
        REQUIRE(r.requests == 1);
    }
    SECTION("upgrade required") {
        a.transport().faults = {};
        ag::SyncReport r = [&] {
            struct Old final : ag::Transport {
                Result<ag::HttpResponse> send(const ag::HttpRequest&) override {
                    return error_response(426, "upgrade_required");
                }
                ag::TransferTotals totals() const override { return {}; }
            } old;
            return ag::SyncAgent(a.engine(), old, a.env()).sync({});
        }();
        REQUIRE(r.error->code == ErrorCode::upgrade_required);
        REQUIRE(r.requests == 1);
    }
    SECTION("not enrolled") {
        TempDir other;
        client::Engine e = ok(client::Engine::open(other / "x.db"));
        ok(e.init("X", "Жамбыл обл."));
        ag::SyncReport r = ag::SyncAgent(e, a.transport(), a.env()).sync({});
        REQUIRE(r.error->code == ErrorCode::not_initialized);
        REQUIRE(r.requests == 0);
    }
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: --until retries whole rounds until the link is back, and gives up at "
                 "the deadline",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 3);
    ag::SyncOptions o;
    o.tuning.max_attempts = 2;
    o.tuning.retry_base = ag::Millis(1000);
    o.tuning.round_base = ag::Millis(60000);
    o.tuning.round_cap = ag::Millis(600000);
    auto start = a.env().now();

    SECTION("the link comes back after 20 failed requests") {
        a.transport().faults = [](int i, const ag::HttpRequest&) {
            return i < 20 ? Fault::offline : Fault::none;
        };
        o.until = start + std::chrono::hours(4);
        ag::SyncReport r = a.sync(o);
        REQUIRE(r.ok());
        REQUIRE(r.attempts >= 10);
        REQUIRE(acked_seq(a.engine()) == own_last_seq(a.engine()));
    }
    SECTION("the link never comes back: offline at the deadline") {
        a.transport().faults = [](int, const ag::HttpRequest&) { return Fault::offline; };
        o.until = start + std::chrono::hours(1);
        ag::SyncReport r = a.sync(o);
        REQUIRE(r.error->code == ErrorCode::offline);
        REQUIRE(a.env().now() <= *o.until);
        REQUIRE(r.attempts > 3);
        // Every round left its line in `sync log`, not just the last one.
        auto log = ok(ag::AgentState(a.engine().component_storage()).log(1000));
        REQUIRE(static_cast<std::int64_t>(log.size()) == r.attempts);
        for (const auto& entry : log) {
            REQUIRE(entry.result == "offline");
        }
    }
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: a lost answer to a push is harmless: the resend gets duplicates with "
                 "server_seq",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 3);
    int n = 0;
    a.transport().faults = [&](int, const ag::HttpRequest& r) {
        return r.target == "/v1/push" && n++ == 0 ? Fault::timeout_after : Fault::none;
    };
    ag::SyncReport r = a.sync();
    REQUIRE(r.ok());
    REQUIRE(r.pushed == own_last_seq(a.engine()));
    require_exactly_once(server, a.engine());
    std::string id = ok(a.engine().device()).id;
    for (std::int64_t s = 1; s <= own_last_seq(a.engine()); ++s) {
        REQUIRE(ok(a.engine().find_event(id, s))->server_seq);
    }
}

TEST_CASE_METHOD(
    OneFakeDevice,
    "sync agent: verify disagrees when the server lacks an event the device has pulled",
    "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 3);
    ag::SyncOptions o;
    o.verify = true;
    ag::SyncReport r = a.sync(o);
    REQUIRE(r.ok());
    REQUIRE(r.verify);
    REQUIRE(r.verify->agree);
    REQUIRE(r.verify->local_count == static_cast<std::int64_t>(server.feed.size()));

    server.feed[2].payload = "{\"fields\":{}}"; // the server's copy went bad
    r = a.sync(o);
    REQUIRE(!r.ok());
    REQUIRE(r.verify);
    REQUIRE(!r.verify->agree);
}

TEST_CASE_METHOD(OneFakeDevice,
                 "sync agent: every run is recorded in sync_log, failures with their reason",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 2);
    REQUIRE(a.sync().ok());
    a.transport().faults = [](int, const ag::HttpRequest&) { return Fault::offline; };
    ag::SyncOptions o;
    o.tuning.max_attempts = 1;
    REQUIRE(!a.sync(o).ok());
    auto log = ok(ag::AgentState(a.engine().component_storage()).log(10));
    REQUIRE(log.size() == 2);
    REQUIRE(log[0].result == "offline");
    REQUIRE(!log[0].message.empty());
    REQUIRE(log[1].result == "ok");
    REQUIRE(log[1].pushed == own_last_seq(a.engine()));
    REQUIRE(log[1].requests >= 2);
    REQUIRE(log[1].bytes_up > 0);
    // The token never appears in what the agent records.
    auto token = ok(ag::AgentState(a.engine().component_storage()).enrollment())->token;
    for (const auto& e : log) {
        REQUIRE(e.message.find(token) == std::string::npos);
    }
}

TEST_CASE_METHOD(OneFakeDevice, "sync agent: the outbox is read in bounded batches, never whole",
                 "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 600);
    ag::SyncOptions o;
    o.tuning.initial_batch_bytes = 8 << 10;
    o.tuning.max_batch_bytes = 8 << 10;
    REQUIRE(a.sync(o).ok());
    for (const auto& b : push_bodies(a.transport())) {
        REQUIRE(b["events"].size() < 40);
    }
    require_exactly_once(server, a.engine());
}

TEST_CASE("enroll: the code is normalised, credentials stored, the token never shown, a used "
          "code is refused",
          "[agent]") {
    REQUIRE(ok(ag::normalize_enroll_code("k7q 94x2mc")) == "K7Q-94X-2MC");
    REQUIRE(!ag::normalize_enroll_code("K7Q-94X"));
    REQUIRE(!ag::normalize_enroll_code("K7Q-94X-2M!"));

    TempDir dir;
    FakeServer server;
    FakeTransport transport(server);
    client::Engine e = ok(client::Engine::open(dir / "x.db"));
    ag::SyncAgent agent(e, transport);
    REQUIRE(agent.enroll({"http://fake", "k7q94x2mc", std::nullopt}).error().code ==
            ErrorCode::not_initialized);
    ok(e.init("Арнат", "Жамбыл обл."));
    auto result = ok(agent.enroll({"http://fake", "k7q94x2mc", std::nullopt}));
    REQUIRE(result.role == "coordinator");
    REQUIRE(transport.sent.back().target == "/v1/enroll");
    REQUIRE(header_of(transport.sent.back(), "Authorization") == "<absent>");
    auto enrolled = ok(ag::AgentState(e.component_storage()).enrollment());
    REQUIRE(enrolled);
    REQUIRE(enrolled->token.size() == 64);
    REQUIRE(enrolled->server_url == "http://fake");

    auto again = agent.enroll({"http://fake", "K7Q-94X-2MC", std::nullopt});
    REQUIRE(!again);
    REQUIRE(again.error().code == ErrorCode::forbidden);
    REQUIRE(again.error().message.find("new one") != std::string::npos);
}

TEST_CASE("protocol: a zstd body decompresses whole (regression: every complete frame read as "
          "truncated)",
          "[agent]") {
    for (std::size_t n : {1u, 100u, 70000u, 300000u}) {
        std::string text(n, 'a');
        for (std::size_t i = 0; i < n; ++i) {
            text[i] = static_cast<char>('a' + (i * 7) % 26);
        }
        auto packed = ok(sync::compress(text, sync::Encoding::zstd));
        REQUIRE(ok(sync::decompress(packed, sync::Encoding::zstd)) == text);
        auto cut = sync::decompress(packed.substr(0, packed.size() / 2), sync::Encoding::zstd);
        if (packed.size() > 10) {
            REQUIRE(!cut);
        }
    }
}

TEST_CASE_METHOD(
    OneFakeDevice,
    "sync agent: a push answered from another epoch is not taken, the device resyncs and "
    "learns the new feed positions",
    "[agent]") {
    record_field_day(a.engine(), "Қызылжар", 3);
    REQUIRE(a.sync().ok());
    // A restore from a backup that happened to hold everything: same events, new epoch, and
    // the feed reordered (server_seqs of the old epoch are now wrong).
    std::reverse(server.feed.begin(), server.feed.end());
    for (std::size_t i = 0; i < server.feed.size(); ++i) {
        server.feed[i].server_seq = static_cast<std::int64_t>(i) + 1;
        server.held[{server.feed[i].device_id, server.feed[i].seq}].server_seq = i + 1;
    }
    server.epoch = "00000000000000e9";
    record_field_day(a.engine(), "Ақсу", 1);

    ag::SyncOptions o;
    o.verify = true;
    ag::SyncReport r = a.sync(o);
    REQUIRE(r.ok());
    REQUIRE(r.verify->agree);
    REQUIRE(ok(ag::AgentState(a.engine().component_storage()).epoch()) == "00000000000000e9");
    std::string id = ok(a.engine().device()).id;
    for (const auto& e : server.feed) {
        REQUIRE(ok(a.engine().find_event(id, e.seq))->server_seq == e.server_seq);
    }
    require_exactly_once(server, a.engine());
}

TEST_CASE("enroll: plain http is refused for other machines, allowed for this one", "[agent]") {
    REQUIRE(!ag::is_insecure_remote_url("http://127.0.0.1:8080"));
    REQUIRE(!ag::is_insecure_remote_url("http://localhost"));
    REQUIRE(!ag::is_insecure_remote_url("http://[::1]:80"));
    REQUIRE(!ag::is_insecure_remote_url("https://caravan.example.kz"));
    REQUIRE(ag::is_insecure_remote_url("http://caravan.example.kz"));
    REQUIRE(ag::is_insecure_remote_url("http://10.0.0.5:8080"));
    REQUIRE(ok(ag::normalize_server_url("http://h:1/v1/")) == "http://h:1");
    REQUIRE(!ag::normalize_server_url("ftp://h"));
    REQUIRE(!ag::normalize_server_url("http://"));
}
