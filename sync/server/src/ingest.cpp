#include "ingest.hpp"

#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/storage/event_row.hpp"

namespace caravan::sync::server {

using nlohmann::json;
using storage::Event;
using storage::Statement;

namespace {

const json* string_field(const json& fields, std::string_view name) {
    auto it = fields.find(name);
    return it != fields.end() && it->is_string() ? &*it : nullptr;
}

ApiError internal(const Error& error) {
    return api_error_from(error);
}

} // namespace

Event read_event(const Statement& s) {
    Event e = storage::event_from_row(s);
    e.log_position = s.column_int(8);
    e.server_seq = e.log_position;
    return e;
}

// ---- validate --------------------------------------------------------------------------------

ApiResult<void> validate_push(const DeviceRecord& device, const PushRequest& request) {
    if (request.device_id != device.device_id) {
        return refuse(codes::forbidden, "\"device_id\" is not the id of this device's token");
    }
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < request.events.size(); ++i) {
        const Event& e = request.events[i];
        const std::string where = "events[" + std::to_string(i) + "]";
        if (e.device_id != device.device_id) {
            return refuse(codes::forbidden, where + " belongs to another device");
        }
        if (e.seq <= previous) {
            return refuse(codes::malformed, where + ": events must be in ascending seq order");
        }
        previous = e.seq;
        if (e.schema_version < client::k_min_event_schema_version ||
            e.schema_version > client::k_event_schema_version) {
            return refuse(codes::upgrade_required,
                          where + ": event schema version " + std::to_string(e.schema_version) +
                              " is not supported (this server reads " +
                              std::to_string(client::k_min_event_schema_version) + " to " +
                              std::to_string(client::k_event_schema_version) + ")");
        }
    }
    return {};
}

// ---- the pipeline ----------------------------------------------------------------------------

Ingest::Ingest(storage::Database& db, storage::EventLog& log, client::Projector& projector,
               DeviceRecord me, std::int64_t now_ms)
    : m_db(&db), m_log(&log), m_projector(&projector), m_me(std::move(me)), m_now_ms(now_ms),
      m_committed_acked(m_me.acked_seq), m_acked(m_me.acked_seq) {}

Result<Ingest> Ingest::prepare(storage::Database& db, storage::EventLog& log,
                               client::Projector& projector, const DeviceRecord& me,
                               std::int64_t now_ms) {
    Ingest ingest(db, log, projector, me, now_ms);
    auto find_rejected = db.cached(
        "SELECT device_id, seq, hlc, entity_type, entity_id, op, payload, schema_version, 0"
        " FROM rejected_events WHERE device_id = ? AND seq = ?");
    auto insert_rejected = db.cached(
        "INSERT INTO rejected_events(device_id, seq, hlc, entity_type, entity_id, op, payload,"
        " schema_version, code, message, received_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    auto insert_scope =
        db.cached("INSERT INTO event_scope(log_position, reference, region_key) VALUES(?, ?, ?)");
    for (auto* s : {&find_rejected, &insert_rejected, &insert_scope}) {
        if (!*s) {
            return tl::unexpected(s->error());
        }
    }
    ingest.m_find_rejected = *find_rejected;
    ingest.m_insert_rejected = *insert_rejected;
    ingest.m_insert_scope = *insert_scope;
    return ingest;
}

ApiResult<EventResult> Ingest::take(const Event& e) {
    auto duplicate = classify(e);
    if (!duplicate) {
        return tl::unexpected(duplicate.error());
    }
    if (*duplicate) {
        return std::move(**duplicate);
    }
    EventResult result;
    result.seq = e.seq;
    auto verdict = judge(e);
    if (!verdict) {
        return tl::unexpected(internal(verdict.error()));
    }
    std::optional<Refusal> refusal = verdict->refusal;
    if (!refusal) {
        auto accepted = accept(e, *verdict, result);
        if (!accepted) {
            return tl::unexpected(internal(accepted.error()));
        }
        refusal = std::move(*accepted);
    }
    if (refusal) {
        if (auto ok = reject(e, *refusal, result); !ok) {
            return tl::unexpected(internal(ok.error()));
        }
    }
    m_acked = e.seq;
    return result;
}

ApiResult<void> Ingest::take_all(const std::vector<Event>& events,
                                 std::vector<EventResult>& results) {
    results.reserve(results.size() + events.size());
    for (const Event& e : events) {
        auto result = take(e);
        if (!result) {
            return tl::unexpected(result.error());
        }
        results.push_back(std::move(*result));
    }
    return {};
}

// ---- classify --------------------------------------------------------------------------------

ApiResult<std::optional<EventResult>> Ingest::classify(const Event& e) {
    if (e.seq > m_acked) {
        if (e.seq != m_acked + 1) {
            return refuse(codes::sequence_gap,
                          "event " + std::to_string(e.seq) + " does not follow " +
                              std::to_string(m_acked) + "; resend from " +
                              std::to_string(m_committed_acked + 1),
                          {{"acked_seq", m_committed_acked}});
        }
        return std::optional<EventResult>();
    }
    // Already acknowledged: the same content is a duplicate, anything else means the device's
    // log diverged from what it sent before (e.g. restored from a backup).
    auto conflict = [&] {
        return refuse(codes::sequence_conflict,
                      "event " + std::to_string(e.seq) + " differs from the copy the server holds",
                      {{"acked_seq", m_committed_acked}, {"seq", e.seq}});
    };
    EventResult result;
    result.seq = e.seq;
    result.fate = EventFate::duplicate;
    auto held = m_log->find(e.device_id, e.seq);
    if (!held) {
        return tl::unexpected(internal(held.error()));
    }
    if (*held) {
        if (!(**held == e)) {
            return conflict();
        }
        result.server_seq = (*held)->log_position;
        return std::optional(std::move(result));
    }
    Statement& s = *m_find_rejected;
    s.reset();
    s.bind_all(e.device_id, e.seq);
    auto row = s.step();
    if (!row) {
        return tl::unexpected(internal(row.error()));
    }
    if (!*row) {
        s.reset();
        return tl::unexpected(
            internal(Error{ErrorCode::corrupt, "acknowledged event missing from the server"}));
    }
    Event refused = read_event(s);
    s.reset();
    refused.log_position = 0;
    refused.server_seq.reset();
    if (!(refused == e)) {
        return conflict();
    }
    // A duplicate of an event refused earlier: no server_seq, it stays out of the feed.
    return std::optional(std::move(result));
}

// ---- judge -----------------------------------------------------------------------------------

Result<Ingest::Verdict> Ingest::judge(const Event& e) {
    Verdict verdict;
    if (client::beyond_ceiling(client::Hlc{e.hlc}, m_now_ms)) {
        // Accepting it would hand every device that pulls it a clock it can never issue below
        // again (docs/sync-algorithm.md, clock rules): this event alone is refused.
        verdict.refusal =
            Refusal{std::string(codes::clock_ahead),
                    "the event's clock is more than 24 hours ahead of the server's clock"};
        return verdict;
    }
    if (auto valid = client::validate_event(e); !valid) {
        verdict.refusal = Refusal{std::string(codes::invalid_event), valid.error().message};
        return verdict;
    }
    verdict.payload = json::parse(e.payload, nullptr, false);
    const json& fields = verdict.payload.at("fields");
    auto placed = place(e, fields);
    if (!placed) {
        return tl::unexpected(placed.error());
    }
    verdict.placement = std::move(*placed);
    // Before the scope: a record under a refused or missing parent has no region to judge, and
    // must not be accepted into none (issue 10).
    auto missing = missing_dependency(e, fields);
    if (!missing) {
        return tl::unexpected(missing.error());
    }
    verdict.refusal = *missing ? std::move(*missing) : out_of_scope(e, verdict.placement);
    return verdict;
}

std::optional<Ingest::Refusal> Ingest::out_of_scope(const Event& e,
                                                    const Placement& placement) const {
    if (m_me.role != Role::lawyer) {
        return std::nullopt;
    }
    if (e.entity_type == client::entities::device.type) {
        if (e.entity_id != m_me.device_id) {
            return Refusal{std::string(codes::out_of_scope), "a device may only describe itself"};
        }
        return std::nullopt;
    }
    for (const auto* region : {&placement.before, &placement.after}) {
        if (*region && !in_regions(m_me, **region)) {
            return Refusal{std::string(codes::out_of_scope),
                           "the record belongs to a region outside this device's"};
        }
    }
    return std::nullopt;
}

Result<std::optional<std::string>> Ingest::text_column(std::string_view sql, std::string_view id) {
    auto stmt = m_db->cached(sql);
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind(1, id);
    auto row = (*stmt)->step();
    if (!row) {
        return tl::unexpected(row.error());
    }
    std::optional<std::string> value;
    if (*row) {
        value = (*stmt)->column_opt_text(0);
    }
    (*stmt)->reset();
    return value;
}

Result<std::optional<std::string>> Ingest::region_of_village(std::string_view id) {
    return text_column("SELECT region FROM villages WHERE id = ?", id);
}

Result<std::optional<std::string>> Ingest::region_of_visit(std::string_view id) {
    return text_column("SELECT g.region FROM visits v JOIN villages g ON g.id = v.village_id"
                       " WHERE v.id = ?",
                       id);
}

Result<Ingest::Placement> Ingest::place(const Event& event, const json& fields) {
    Placement p;
    const client::EntityDef* def = client::find_entity(event.entity_type);
    if (!def || def == &client::entities::device) {
        p.reference = true;
        return p;
    }
    if (def == &client::entities::village) {
        p.reference = true;
        auto before = region_of_village(event.entity_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
        const json* region = string_field(fields, "region");
        p.after = region ? std::optional<std::string>(region->get<std::string>()) : p.before;
        return p;
    }
    if (def == &client::entities::visit) {
        auto before = region_of_visit(event.entity_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
        p.after = p.before;
        if (const json* village = string_field(fields, "village_id")) {
            auto after = region_of_village(village->get_ref<const std::string&>());
            if (!after) {
                return tl::unexpected(after.error());
            }
            p.after = *after;
        }
        return p;
    }
    // Records held by a visit: consultation, attendance, survey, photo.
    auto visit_id = text_column("SELECT visit_id FROM " + std::string(def->table) + " WHERE id = ?",
                                event.entity_id);
    if (!visit_id) {
        return tl::unexpected(visit_id.error());
    }
    if (*visit_id) {
        auto before = region_of_visit(**visit_id);
        if (!before) {
            return tl::unexpected(before.error());
        }
        p.before = *before;
    }
    p.after = p.before;
    if (const json* visit = string_field(fields, "visit_id")) {
        auto after = region_of_visit(visit->get_ref<const std::string&>());
        if (!after) {
            return tl::unexpected(after.error());
        }
        p.after = *after;
    }
    return p;
}

Result<bool> Ingest::held(const client::EntityDef& def, const std::string& id) {
    auto row = text_column(
        "SELECT id FROM " + std::string(def.table) + " WHERE id = ? AND _created IS NOT NULL", id);
    return row ? Result<bool>(row->has_value()) : tl::unexpected(row.error());
}

// Only this device's own refusals are looked up (through the primary key's prefix): a device
// learns other devices' records from the feed, which never holds a refused one.
Result<bool> Ingest::refused_before(const std::string& entity_id) {
    auto stmt =
        m_db->cached("SELECT 1 FROM rejected_events WHERE device_id = ? AND entity_id = ? LIMIT 1");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    (*stmt)->bind_all(m_me.device_id, entity_id);
    auto row = (*stmt)->step();
    (*stmt)->reset();
    return row;
}

Result<std::optional<Ingest::Refusal>> Ingest::missing_dependency(const Event& event,
                                                                  const json& fields) {
    using Missing = std::optional<Refusal>;
    const client::EntityDef* def = client::find_entity(event.entity_type);
    if (!def || def == &client::entities::device || def == &client::entities::village) {
        return Missing();
    }
    if (event.op != client::k_op_create) {
        auto here = held(*def, event.entity_id);
        if (!here) {
            return tl::unexpected(here.error());
        }
        if (!*here) {
            auto was_refused = refused_before(event.entity_id);
            if (!was_refused) {
                return tl::unexpected(was_refused.error());
            }
            // An update of a record the server never received stays acceptable (after a
            // restore, another device may offer the creation later); one whose creation was
            // refused would otherwise land in no region.
            if (*was_refused) {
                return Missing(Refusal{std::string(codes::parent_rejected),
                                       "the " + std::string(def->type) + " " + event.entity_id +
                                           " this event changes was refused when created"});
            }
        }
    }
    const client::EntityDef& parent =
        def == &client::entities::visit ? client::entities::village : client::entities::visit;
    const json* parent_id =
        string_field(fields, def == &client::entities::visit ? "village_id" : "visit_id");
    if (!parent_id) {
        return Missing();
    }
    const std::string& id = parent_id->get_ref<const std::string&>();
    auto here = held(parent, id);
    if (!here) {
        return tl::unexpected(here.error());
    }
    if (*here) {
        return Missing();
    }
    auto was_refused = refused_before(id);
    if (!was_refused) {
        return tl::unexpected(was_refused.error());
    }
    if (*was_refused) {
        return Missing(
            Refusal{std::string(codes::parent_rejected),
                    "the " + std::string(parent.type) + " " + id + " it belongs to was refused"});
    }
    return Missing(
        Refusal{std::string(codes::parent_unknown), "the " + std::string(parent.type) + " " + id +
                                                        " it belongs to is not on the server"});
}

// ---- accept / reject -------------------------------------------------------------------------

Result<std::optional<Ingest::Refusal>> Ingest::accept(const Event& e, const Verdict& verdict,
                                                      EventResult& result) {
    Event stored = e;
    stored.server_seq.reset();
    auto appended = m_log->append(stored);
    if (!appended && appended.error().code == ErrorCode::conflict) {
        // The seq is new, so the log refused an event whose clock is out of order with this
        // device's other events (one clock value stamped twice, or a clock that went back):
        // refuse the event, not the push, or the queue would stall on it.
        return std::optional(
            Refusal{std::string(codes::invalid_event),
                    "the event's clock is out of order with this device's other events"
                    " (a higher seq needs a higher clock)"});
    }
    if (!appended) {
        return tl::unexpected(appended.error());
    }
    if (!*appended) {
        return fail(ErrorCode::corrupt, "event stored beyond the acknowledged sequence");
    }
    if (auto ok = m_projector->apply(stored, verdict.payload); !ok) {
        return tl::unexpected(ok.error());
    }
    const Placement& placement = verdict.placement;
    Statement& s = *m_insert_scope;
    s.reset();
    s.bind_all(stored.log_position, placement.reference);
    s.bind(3, placement.after ? std::optional<std::string>(region_key(*placement.after))
                              : std::nullopt);
    if (auto ok = s.run(); !ok) {
        return tl::unexpected(ok.error());
    }
    result.fate = EventFate::accepted;
    result.server_seq = stored.log_position;
    return std::optional<Refusal>();
}

Result<void> Ingest::reject(const Event& e, const Refusal& refusal, EventResult& result) {
    Statement& s = *m_insert_rejected;
    s.reset();
    s.bind_all(e.device_id, e.seq, e.hlc, e.entity_type, e.entity_id, e.op, e.payload,
               e.schema_version, refusal.code, refusal.message, m_now_ms);
    if (auto ok = s.run(); !ok) {
        return ok;
    }
    result.fate = EventFate::rejected;
    result.code = refusal.code;
    result.message = refusal.message;
    return {};
}

} // namespace caravan::sync::server
