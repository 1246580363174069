// The event applier under random event sequences: invalid events are refused without changes,
// and the projections never depend on the order in which valid events arrive (forward, reverse,
// and a rebuild from the log all give the same fingerprint).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"

using namespace caravan;
using nlohmann::json;

namespace {

struct Reader {
    const std::uint8_t* data;
    std::size_t size;
    std::size_t pos = 0;
    std::uint8_t byte() { return pos < size ? data[pos++] : 0; }
    bool done() const { return pos >= size; }
};

const char* k_devices[] = {"00000000-0000-7000-8000-00000000000a",
                           "00000000-0000-7000-8000-00000000000b",
                           "00000000-0000-7000-8000-00000000000c"};
const char* k_entities[] = {"00000000-0000-7000-8000-000000000001",
                            "00000000-0000-7000-8000-000000000002",
                            "00000000-0000-7000-8000-000000000003"};
const char* k_texts[] = {"Қызылжар", "land", "advice", "female", "33-45", "", "x", "unrecorded"};

json value_for(const client::FieldDef& f, Reader& r) {
    std::uint8_t b = r.byte();
    if (b % 11 == 0) {
        return nullptr;
    }
    if (b % 13 == 0) {
        return 7; // often the wrong type: must be refused
    }
    switch (f.type) {
    case client::FieldType::text:
        if (f.enumeration && b % 2) {
            return std::string(f.enumeration->values[b % f.enumeration->values.size()].code);
        }
        return k_texts[b % std::size(k_texts)];
    case client::FieldType::integer: return static_cast<int>(b) - 3;
    case client::FieldType::real: return b / 3.0;
    case client::FieldType::boolean: return (b & 1) != 0;
    case client::FieldType::text_list:
        return json::array({std::string(client::enums::topic.values[b % client::enums::topic.values.size()].code)});
    }
    return nullptr;
}

std::vector<storage::Event> decode(Reader& r) {
    std::vector<storage::Event> events;
    std::int64_t seqs[3] = {0, 0, 0};
    auto all = client::all_entities();
    while (!r.done() && events.size() < 24) {
        int d = r.byte() % 3;
        const client::EntityDef& def = *all[r.byte() % all.size()];
        storage::Event e;
        e.device_id = k_devices[d];
        e.seq = ++seqs[d];
        e.hlc = client::Hlc::from_parts(1'700'000'000'000 + r.byte() * 1000, r.byte() % 4).value;
        e.entity_type = std::string(def.type);
        e.entity_id = k_entities[r.byte() % 3];
        std::uint8_t op = r.byte() % 3;
        e.op = op == 0 ? "create" : op == 1 ? "update" : "delete";
        json fields = json::object();
        json base = json::object();
        if (e.op == "delete") {
            fields["deleted"] = true;
        } else {
            for (const auto& f : def.fields) {
                if (e.op == "create" || r.byte() % 3 == 0) {
                    fields[std::string(f.name)] = value_for(f, r);
                }
            }
        }
        if (e.op != "create" && r.byte() % 2) {
            base["deleted"] = client::version_of(e.hlc - 5, k_devices[r.byte() % 3]);
        }
        json payload = {{"fields", fields}};
        if (!base.empty()) {
            payload["base"] = base;
        }
        e.payload = payload.dump();
        e.schema_version = r.byte() % 17 == 0 ? 99 : 1;
        events.push_back(std::move(e));
    }
    return events;
}

client::Engine open_memory() {
    client::EngineOptions options;
    options.integrity_check = false;
    auto engine = client::Engine::open(":memory:", options);
    if (!engine) {
        __builtin_trap();
    }
    return std::move(*engine);
}

std::string apply_all(const std::vector<storage::Event>& events, bool reverse) {
    client::Engine engine = open_memory();
    std::vector<storage::Event> order = events;
    if (reverse) {
        std::reverse(order.begin(), order.end());
    }
    for (const auto& e : order) {
        auto before = engine.event_log().count();
        auto applied = engine.apply_remote(e);
        auto after = engine.event_log().count();
        if (!before || !after || (!applied && *after != *before)) {
            __builtin_trap(); // a refused event must leave no trace
        }
    }
    auto fp = engine.projector().fingerprint();
    auto check = engine.batch([&] { return engine.projector().rebuild(); });
    auto rebuilt = engine.projector().fingerprint();
    if (!fp || !check || !rebuilt || *fp != *rebuilt) {
        __builtin_trap();
    }
    return *fp;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Reader r{data, size};
    auto events = decode(r);
    if (apply_all(events, false) != apply_all(events, true)) {
        __builtin_trap();
    }
    return 0;
}
