#include "caravan/client/engine.hpp"

#include <algorithm>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/new_record.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/client/text.hpp"
#include "caravan/storage/migrations.hpp"
#include "caravan/storage/transaction.hpp"
#include "engine_write_state.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

using nlohmann::json;
using storage::Event;

std::filesystem::path default_database_path() {
    if (const char* env = std::getenv("CARAVAN_DB"); env && *env) {
        return env;
    }
    if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
        return std::filesystem::path(xdg) / "caravan" / "caravan.db";
    }
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home && *home ? home : ".") / ".local" / "share" / "caravan" /
           "caravan.db";
}

Engine::Engine(storage::Database db, EngineOptions options)
    : m_db(std::move(db)), m_log(m_db), m_settings(m_db), m_projector(m_db),
      m_options(std::move(options)) {
    if (!m_options.clock) {
        m_options.clock = system_now_ms;
    }
}

Engine::Engine(Engine&& other) noexcept
    : m_db(std::move(other.m_db)), m_log(m_db), m_settings(m_db), m_projector(m_db),
      m_options(std::move(other.m_options)), m_write(std::move(other.m_write)),
      m_current_visit(std::move(other.m_current_visit)) {}

Engine& Engine::operator=(Engine&& other) noexcept {
    if (this != &other) {
        m_write.reset();
        m_db = std::move(other.m_db);
        m_log = storage::EventLog(m_db);
        m_settings = storage::Settings(m_db);
        m_projector = Projector(m_db);
        m_options = std::move(other.m_options);
        m_write = std::move(other.m_write);
        m_current_visit = std::move(other.m_current_visit);
    }
    return *this;
}

Engine::~Engine() = default;

Result<Engine> Engine::open(const std::filesystem::path& path, EngineOptions options) {
    storage::OpenOptions open_options;
    open_options.create = options.create;
    open_options.create_directories = options.create_directories;
    open_options.busy_timeout_ms = options.busy_timeout_ms;
    open_options.integrity_check = options.integrity_check;
    open_options.application_id = k_device_application_id;
    auto db = storage::Database::open(path, open_options);
    if (!db) {
        if (!options.create && db.error().code == ErrorCode::not_found) {
            return fail(ErrorCode::not_initialized, msg::database_not_created, path.string());
        }
        return tl::unexpected(db.error());
    }
    // Every component migrates in one transaction: the database is fully upgraded or untouched,
    // also when a later component turns out newer than this program. The first attempt is
    // deferred and takes no write lock when nothing is pending; if it loses the race for the
    // lock to another writer, the second attempt takes the lock up front.
    for (int attempt = 0;; ++attempt) {
        if (auto begun = db->exec(attempt == 0 ? "BEGIN" : "BEGIN IMMEDIATE"); !begun) {
            return tl::unexpected(begun.error());
        }
        Result<void> ok;
        for (auto install :
             {&storage::EventLog::install, &storage::Settings::install, &Projector::install,
              &search_index::install, &visit_totals::install}) {
            if (ok = install(*db); !ok) {
                break;
            }
        }
        if (ok) {
            ok = db->exec("COMMIT");
        }
        if (ok) {
            break;
        }
        (void)db->exec("ROLLBACK");
        if (attempt > 0 || ok.error().code != ErrorCode::busy) {
            return tl::unexpected(ok.error());
        }
    }
    if (options.max_page_count > 0) {
        if (auto ok = db->set_max_page_count(options.max_page_count); !ok) {
            return tl::unexpected(ok.error());
        }
    }
    return Engine(std::move(*db), std::move(options));
}

// ---- write path --------------------------------------------------------------------------

Result<void> Engine::write(const std::function<Result<void>()>& work) {
    if (m_write) {
        return work();
    }
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    auto device_id = m_settings.get(key::device_id);
    auto hlc_text = device_id ? m_settings.get(key::hlc) : decltype(device_id)();
    if (!device_id || !hlc_text) {
        return tl::unexpected(!device_id ? device_id.error() : hlc_text.error());
    }
    HlcClock clock;
    if (*hlc_text) {
        if (auto last = Hlc::from_hex(**hlc_text)) {
            clock = HlcClock(*last);
        }
    }
    std::int64_t next_seq = 1;
    if (*device_id) {
        auto last = m_log.last_seq(**device_id);
        if (!last) {
            return tl::unexpected(last.error());
        }
        next_seq = *last + 1;
    }
    m_write = std::make_unique<WriteState>(
        WriteState{std::move(*tx), clock, next_seq, device_id->value_or(""), std::nullopt,
                   std::nullopt});
    Result<void> result;
    if (beyond_ceiling(clock.last(), m_options.clock(), Hlc::k_device_max_lead_ms)) {
        // A clock poisoned before received clocks were bounded: repaired before anything is
        // stamped with it (clock_repair.cpp).
        if (auto repaired = restamp_unsent(m_options.clock()); !repaired) {
            result = tl::unexpected(repaired.error());
        }
    }
    if (result) {
        result = work();
    }
    if (result) {
        result = m_settings.set(key::hlc, m_write->clock.last().to_hex());
    }
    if (result) {
        result = m_write->tx.commit();
    }
    m_write.reset(); // rolls back unless committed
    m_current_visit.reset();
    return result;
}

Result<void> Engine::batch(const std::function<Result<void>()>& work) { return write(work); }

template <class Project>
Result<Event> Engine::append_local(const EntityDef& def, const std::string& id,
                                   std::string_view op, std::string payload, Project&& project) {
    if (!m_write || m_write->device_id.empty()) {
        return fail(ErrorCode::not_initialized, msg::not_initialised);
    }
    Event event;
    event.device_id = m_write->device_id;
    event.seq = m_write->next_seq;
    event.hlc = m_write->clock.tick(m_options.clock()).value;
    event.entity_type = std::string(def.type);
    event.entity_id = id;
    event.op = std::string(op);
    event.payload = std::move(payload);
    event.schema_version = k_event_schema_version;
    // The clock was ticked past every value in this log (it observes each remote event it
    // applies) and seq is the next one: the neighbour check cannot fail here.
    auto appended = m_log.append(event, storage::EventLog::ClockCheck::device_clock);
    if (!appended) {
        return tl::unexpected(appended.error());
    }
    if (auto ok = project(event); !ok) {
        return tl::unexpected(ok.error());
    }
    if (&def == &entities::visit || &def == &entities::village) {
        m_current_visit.reset(); // a visit and its village make up the cached current visit
    }
    ++m_write->next_seq;
    return event;
}

Result<Event> Engine::record(const EntityDef& def, const std::string& id, std::string_view op,
                             const json& fields, const json& base) {
    // Member by member: an initializer list would copy `fields` twice. Same document, same text.
    json payload = json::object();
    payload.emplace("fields", fields);
    if (!base.empty()) {
        payload.emplace("base", base);
    }
    if (op != k_op_create) {
        // The conflicts this device lists on the fields written: it held both values, so this
        // write settles them on every device (docs/sync-algorithm.md 2.3).
        CARAVAN_TRY(settled, m_projector.settled_by(def, id, fields));
        if (!settled.empty()) {
            payload.emplace(k_settles_key, std::move(settled));
        }
    }
    return append_local(def, id, op, payload.dump(),
                        [&](const Event& event) { return m_projector.apply(event, payload); });
}

Result<Event> Engine::record(const NewRecord& record, const std::string& id) {
    return append_local(record.def(), id, k_op_create, record.payload(),
                        [&](const Event& event) { return m_projector.apply_new(event, record); });
}

Result<bool> Engine::apply_remote(Event event) {
    if (auto ok = validate_event(event); !ok) {
        return tl::unexpected(ok.error());
    }
    bool inserted = false;
    auto ok = write([&]() -> Result<void> {
        // A value beyond the bound is applied but does not move this device's clock: its own
        // events must stay within what the server accepts (docs/sync-algorithm.md).
        (void)m_write->clock.observe_within(Hlc{event.hlc}, m_options.clock(),
                                            Hlc::k_device_max_lead_ms);
        auto appended = m_log.append(event);
        if (!appended) {
            return tl::unexpected(appended.error());
        }
        inserted = *appended;
        if (!inserted) {
            return {};
        }
        m_current_visit.reset();
        return m_projector.apply(event);
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return inserted;
}

// ---- identity ----------------------------------------------------------------------------

Result<Device> Engine::device() {
    auto id = m_settings.get(key::device_id);
    auto lawyer = m_settings.get(key::lawyer);
    auto region = m_settings.get(key::region);
    if (!id || !lawyer || !region) {
        return tl::unexpected(!id ? id.error() : !lawyer ? lawyer.error() : region.error());
    }
    if (!*id) {
        return fail(ErrorCode::not_initialized, msg::not_initialised);
    }
    return Device{**id, lawyer->value_or(""), region->value_or("")};
}

Result<Device> Engine::require_device() {
    if (m_write && m_write->device) {
        return *m_write->device;
    }
    auto found = device();
    if (found && m_write) {
        m_write->device = *found;
    }
    return found;
}

Result<Engine::RecordingScope> Engine::recording_scope() {
    if (m_write && m_write->scope) {
        return *m_write->scope;
    }
    auto role = m_settings.get(key::sync_role);
    auto regions = role ? m_settings.get(key::sync_regions) : decltype(role)();
    if (!role || !regions) {
        return tl::unexpected(!role ? role.error() : regions.error());
    }
    RecordingScope scope;
    // Only an enrollment as a lawyer narrows the scope: before enrolling, the device cannot know
    // whether it will be a coordinator's, and the server judges every event again anyway.
    if (*role && **role != "coordinator") {
        scope.any = false;
        json list = json::parse(regions->value_or("[]"), nullptr, false);
        if (list.is_array()) {
            for (const json& r : list) {
                if (r.is_string()) {
                    scope.regions.push_back(r.get<std::string>());
                }
            }
        }
    }
    if (m_write) {
        m_write->scope = scope;
    }
    return scope;
}

namespace {

// Compared as the server compares them (docs/protocol.md 6.3): case and runs of spaces aside.
bool same_region(std::string_view a, std::string_view b) {
    const std::string folded = fold_case(normalize_space(a));
    return !folded.empty() && folded == fold_case(normalize_space(b));
}

} // namespace

Result<std::optional<std::vector<std::string>>> Engine::recording_regions() {
    CARAVAN_TRY(scope, recording_scope());
    if (scope.any) {
        return std::optional<std::vector<std::string>>{};
    }
    return std::optional(scope.regions);
}

Result<bool> Engine::may_record_in(std::string_view region) {
    CARAVAN_TRY(scope, recording_scope());
    return scope.any || std::any_of(scope.regions.begin(), scope.regions.end(),
                                    [&](const std::string& r) { return same_region(r, region); });
}

Result<void> Engine::require_in_scope(const std::string& region, const std::string& visit_id) {
    CARAVAN_TRY(allowed_here, may_record_in(region));
    if (allowed_here) {
        return {};
    }
    CARAVAN_TRY(scope, recording_scope());
    std::string allowed;
    for (const std::string& r : scope.regions) {
        allowed += (allowed.empty() ? "" : "; ") + r;
    }
    MessageArg where = region.empty() ? MessageArg(msg::word_region_unknown) : MessageArg(region);
    MessageArg enrolled = allowed.empty() ? MessageArg(msg::word_none) : MessageArg(allowed);
    if (visit_id.empty()) {
        return fail(ErrorCode::invalid_input, msg::region_not_enrolled, where, enrolled);
    }
    return fail(ErrorCode::invalid_input, msg::visit_out_of_region, short_id(visit_id), where,
                enrolled);
}

Result<Device> Engine::init(const std::string& lawyer_in, const std::string& region_in) {
    auto lawyer = validate_text("lawyer", lawyer_in, k_max_name_chars);
    if (!lawyer) {
        return tl::unexpected(lawyer.error());
    }
    auto region = validate_text("region", region_in, k_max_name_chars);
    if (!region) {
        return tl::unexpected(region.error());
    }
    return create_identity(*lawyer, *region);
}

Result<Device> Engine::init_coordinator(const std::string& name_in) {
    auto name = validate_text("lawyer", name_in, k_max_name_chars);
    if (!name) {
        return tl::unexpected(name.error());
    }
    return create_identity(*name, "");
}

Result<Device> Engine::create_identity(const std::string& lawyer, const std::string& region) {
    Device device;
    auto ok = write([&]() -> Result<void> {
        auto existing = m_settings.get(key::device_id);
        if (!existing) {
            return tl::unexpected(existing.error());
        }
        if (*existing) {
            return fail(ErrorCode::conflict, msg::already_initialised, **existing);
        }
        device = Device{uuid_v7(m_options.clock()), lawyer, region};
        for (auto [k, v] : {std::pair{key::device_id, device.id}, {key::lawyer, device.lawyer},
                            {key::region, device.region}}) {
            if (auto set = m_settings.set(k, v); !set) {
                return set;
            }
        }
        m_write->device_id = device.id;
        m_write->next_seq = 1;
        NewRecord fields(entities::device);
        fields.set("lawyer", std::string_view(device.lawyer))
            .set("region", std::string_view(device.region))
            .set("deleted", false);
        auto event = record(fields, device.id);
        if (!event) {
            return tl::unexpected(event.error());
        }
        return {};
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return device;
}

} // namespace caravan::client
