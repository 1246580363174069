// The event applier under random event sequences: invalid events are refused without changes,
// and the projections never depend on the order in which valid events arrive (forward, reverse,
// and a rebuild from the log all give the same fingerprint). Also the text rules: whatever the
// bytes, validation never keeps a control character and the terminal escaping leaves none.
//
// Speed: one in-memory database for the whole process, emptied between runs (an empty database
// file restored into it: rowids restart, so each input sees the same state as on a fresh
// database). Opening and migrating a database for each of the two runs of an input cost most
// of the time.
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/entities.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/text.hpp"

using namespace caravan;
using nlohmann::json;

namespace {

void invariant(bool holds, const char* what) {
    if (!holds) {
        std::fprintf(stderr, "invariant broken: %s\n", what);
        __builtin_trap();
    }
}

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
const char* k_texts[] = {"Қызылжар", "land", "advice", "female", "33-45", "", "x", "unrecorded",
                         // refused on arrival: a terminal escape, C1 CSI, a direction override
                         "a\x1b[2Jb", "a\xc2\x9b" "2Jb", "a\xe2\x80\xae" "b",
                         // accepted: line breaks
                         "a\r\nb\tc"};

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
    std::int64_t clocks[3] = {0, 0, 0};
    auto all = client::all_entities();
    while (!r.done() && events.size() < 24) {
        int d = r.byte() % 3;
        const client::EntityDef& def = *all[r.byte() % all.size()];
        storage::Event e;
        e.device_id = k_devices[d];
        e.seq = ++seqs[d];
        // An honest device's clock only moves forward (the event log refuses a repeated value).
        clocks[d] += 1 + r.byte() % 3 * 1000;
        e.hlc = client::Hlc::from_parts(1'700'000'000'000 + clocks[d] * 1000, r.byte() % 4).value;
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

// An empty device database file, made once per process (removed at exit; a crash leaves it in
// the temporary directory): each run restores it into the process's in-memory engine.
struct EmptyTemplate {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("caravan-fuzz-event-apply-" + std::to_string(::getpid()) + ".db");
    EmptyTemplate() {
        client::EngineOptions options;
        options.integrity_check = false;
        invariant(static_cast<bool>(client::Engine::open(path, options)), "the template opens");
    }
    ~EmptyTemplate() {
        std::error_code ec;
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(path.string() + suffix, ec);
        }
    }
};

// The process's database, emptied before each run.
client::Engine& empty_memory_engine() {
    static const EmptyTemplate empty;
    static client::Engine engine = [] {
        client::EngineOptions options;
        options.integrity_check = false;
        auto opened = client::Engine::open(":memory:", options);
        if (!opened) {
            __builtin_trap();
        }
        return std::move(*opened);
    }();
    invariant(static_cast<bool>(engine.restore_from(empty.path)), "the database empties");
    return engine;
}

// Text rules on the raw input: validation keeps no control character, and the escaping for a
// terminal leaves none (and is the identity on text that has none).
void check_text_rules(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), std::min<std::size_t>(size, 512));
    auto no_raw_control = [](std::string_view s, bool lines) {
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7f) {
                return false;
            }
        }
        return client::is_safe_text(s);
    };
    for (bool lines : {false, true}) {
        std::string shown = client::escape_controls(text, lines);
        invariant(client::is_valid_utf8(shown), "escaped text is UTF-8");
        invariant(no_raw_control(shown, lines), "escaped text holds no control character");
        if (client::is_valid_utf8(text) && client::is_safe_text(text) &&
            (lines || text.find_first_of("\n\t") == std::string_view::npos)) {
            invariant(shown == text, "safe text is shown unchanged");
        }
    }
    if (auto name = client::validate_text("name", text, 10000)) {
        invariant(no_raw_control(*name, false), "a validated name holds no control character");
    }
    if (auto note = client::validate_note("question", text, 10000, false)) {
        invariant(no_raw_control(*note, true), "a validated note holds no control character");
    }
}

std::string apply_all(const std::vector<storage::Event>& events, bool reverse) {
    client::Engine& engine = empty_memory_engine();
    std::vector<storage::Event> order = events;
    if (reverse) {
        std::reverse(order.begin(), order.end());
    }
    for (const auto& e : order) {
        auto before = engine.event_count();
        auto applied = engine.apply_remote(e);
        auto after = engine.event_count();
        invariant(before && after, "event count readable");
        invariant(applied || *after == *before, "a refused event leaves no trace");
    }
    if (std::getenv("CARAVAN_FUZZ_DEBUG")) {
        std::fprintf(stderr, "== %s\n", reverse ? "reverse" : "forward");
        for (const auto& e : order) {
            std::fprintf(stderr, "event %s/%lld %s %s %s %s\n", e.device_id.c_str() + 34,
                         static_cast<long long>(e.seq), e.entity_type.c_str(),
                         e.entity_id.c_str() + 34, e.op.c_str(), e.payload.c_str());
        }
        auto view = engine.read_view();
        invariant(static_cast<bool>(view), "a read view");
        for (const auto* def : client::all_entities()) {
            auto stmt = view->database().prepare("SELECT * FROM " + std::string(def->table));
            while (stmt && stmt->step().value_or(false)) {
                std::string row;
                for (int c = 0; c < stmt->column_count(); ++c) {
                    row += (stmt->is_null(c) ? std::string("NULL") : stmt->column_text(c)) + "|";
                }
                std::fprintf(stderr, "%s: %s\n", std::string(def->table).c_str(), row.c_str());
            }
        }
        auto stmt = view->database().prepare("SELECT * FROM conflicts");
        while (stmt && stmt->step().value_or(false)) {
            std::fprintf(stderr, "conflict: %s %s %s %s\n", stmt->column_text(2).c_str(),
                         stmt->column_text(3).c_str(), stmt->column_text(5).c_str(),
                         stmt->column_text(6).c_str());
        }
    }
    auto fp = engine.fingerprint();
    auto check = engine.batch([&] { return engine.rebuild_projections(); });
    auto rebuilt = engine.fingerprint();
    invariant(fp && check && rebuilt, "fingerprint and rebuild succeed");
    invariant(*fp == *rebuilt, "a rebuild from the log reproduces the projections");
    return *fp;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_text_rules(data, size);
    Reader r{data, size};
    auto events = decode(r);
    invariant(apply_all(events, false) == apply_all(events, true),
              "forward and reverse application give the same projections");
    return 0;
}
