// Throughput of recording many consultations through the engine in batches (batch() of
// BATCH add_consultation calls: one transaction each), projections included, against the same
// rows inserted with one prepared statement into a bare SQLite table with the same pragmas and
// the same batch size. The bare table is measured twice: with text bound without a copy
// (SQLITE_STATIC, as the engine binds its hot inserts: the like-for-like baseline) and with
// SQLite copying every bound string (SQLITE_TRANSIENT, the common default). A last baseline
// also writes an event-log row per record (the rows the engine's design writes, without the
// engine) to separate the cost of the data model from the cost of the engine's code. All run
// interleaved in chunks, each on its own file. Two more engines run with the triggers of one of
// its derived tables dropped (the consultations' text index, the visit totals): what keeping
// each costs a save.
//
//   bench_bulk [RECORDS=100000] [BATCH=1000]

#include <cstdlib>
#include <iostream>

#include "caravan/client/ids.hpp"
#include "caravan/client/new_record.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "support.hpp"

using namespace caravan;
using namespace caravan::bench;

namespace {

struct Totals {
    double wall = 0;
    double cpu = 0;
    std::int64_t records = 0;
    [[nodiscard]] double per_s() const { return static_cast<double>(records) / wall; }
    [[nodiscard]] double per_cpu_s() const { return static_cast<double>(records) / cpu; }
};

template <class F> void timed(Totals& t, std::int64_t records, F&& work) {
    double wall0 = now_s(), cpu0 = cpu_s();
    work();
    t.wall += now_s() - wall0;
    t.cpu += cpu_s() - cpu0;
    t.records += records;
}

// The visit and lawyer the bare rows name (RawTable::insert writes the same).
constexpr std::string_view k_visit_id = "01a20f62-566d-791d-b826-64f8c26c30dd";
constexpr std::string_view k_lawyer = "Арнат Ұлтанбаев";

} // namespace

int main(int argc, char** argv) {
    const std::int64_t records = argc > 1 ? std::atoll(argv[1]) : 100000;
    const std::int64_t batch = argc > 2 ? std::atoll(argv[2]) : 1000;
    const std::int64_t chunk = std::max<std::int64_t>(batch, records / 10);
    print_title("bench_bulk: " + std::to_string(records) + " consultations in batches of " +
                std::to_string(batch));
    print_machine();

    ScratchDir dir;
    std::vector<client::ConsultationInput> inputs;
    inputs.reserve(static_cast<std::size_t>(records));
    for (std::int64_t i = 0; i < records; ++i) {
        inputs.push_back(sample_consultation(static_cast<std::uint64_t>(i)));
    }

    client::Engine engine = open_device(dir / "engine.db");
    client::Engine no_text = open_device(dir / "no-text.db");
    client::Engine no_totals = open_device(dir / "no-totals.db");
    {
        auto db = must(storage::Database::open(dir / "no-text.db"), "open no-text.db");
        must(client::search_index::drop_triggers(db), "drop the text index's triggers");
        auto db2 = must(storage::Database::open(dir / "no-totals.db"), "open no-totals.db");
        must(client::visit_totals::drop_triggers(db2), "drop the visit totals' triggers");
    }
    RawTable raw(dir / "raw.db");
    RawTable raw_copied(dir / "raw-copied.db", RawTable::Binds::copied);
    RawTable design(dir / "design.db");
    Totals t_engine, t_no_text, t_no_totals, t_raw, t_raw_copied, t_design;
    const std::int64_t clock_ms = 1715680800000;

    for (std::int64_t from = 0; from < records; from += chunk) {
        const std::int64_t to = std::min(records, from + chunk);
        for (auto [e, totals] : {std::pair{&engine, &t_engine}, {&no_text, &t_no_text},
                                 {&no_totals, &t_no_totals}}) {
            timed(*totals, to - from, [&, e = e] {
                for (std::int64_t b = from; b < to; b += batch) {
                    must(e->batch([&]() -> Result<void> {
                        for (std::int64_t i = b; i < std::min(to, b + batch); ++i) {
                            auto added = e->add_consultation(inputs[static_cast<std::size_t>(i)]);
                            if (!added) {
                                return tl::unexpected(added.error());
                            }
                        }
                        return {};
                    }),
                         "engine batch");
                }
            });
        }
        for (auto [table, totals] : {std::pair{&raw, &t_raw}, {&raw_copied, &t_raw_copied}}) {
            timed(*totals, to - from, [&] {
                for (std::int64_t b = from; b < to; b += batch) {
                    table->begin();
                    for (std::int64_t i = b; i < std::min(to, b + batch); ++i) {
                        table->insert(client::uuid_v7(clock_ms + i),
                                      inputs[static_cast<std::size_t>(i)]);
                    }
                    table->commit();
                }
            });
        }
        timed(t_design, to - from, [&] {
            for (std::int64_t b = from; b < to; b += batch) {
                design.begin();
                for (std::int64_t i = b; i < std::min(to, b + batch); ++i) {
                    const client::ConsultationInput& c = inputs[static_cast<std::size_t>(i)];
                    std::string id = client::uuid_v7(clock_ms + i);
                    // The engine's payload, written the engine's way (client::NewRecord).
                    client::NewRecord fields(client::entities::consultation);
                    fields.set("visit_id", std::string_view(k_visit_id))
                        .set("lawyer", std::string_view(k_lawyer))
                        .set("gender", std::string_view(c.person.gender))
                        .set("age", std::string_view(c.person.age))
                        .set("category", std::string_view(c.person.category))
                        .set("vulnerable", client::or_null(c.person.vulnerable))
                        .set("topics", std::span<const std::string>(c.topics))
                        .set("outcome", std::string_view(c.outcome))
                        .set("question", std::string_view(c.question))
                        .set("advice", std::string_view(c.advice))
                        .set("follow_up", c.follow_up)
                        .set("lang", client::or_null(c.lang))
                        .set("deleted", false);
                    design.insert_event(id, i + 1, fields.payload());
                    design.insert(id, c);
                }
                design.commit();
            }
        });
    }

    auto status = must(engine.status(), "status");
    if (status.consultations != records + 0) {
        std::cerr << "bench_bulk: the engine holds " << status.consultations
                  << " consultations, expected " << records << "\n";
        return 1;
    }
    auto line = [](const Totals& t) {
        return fmt(t.per_s(), 0) + " records/s   (" + fmt(t.wall, 2) + " s wall, " + fmt(t.cpu, 2) +
               " s CPU, " + fmt(t.per_cpu_s(), 0) + " records per CPU-s)";
    };
    print_row("engine (events + projections)", line(t_engine));
    print_row("engine without the text index's triggers", line(t_no_text));
    print_row("engine without the visit totals' triggers", line(t_no_totals));
    print_row("ratio engine/without the text index (CPU)",
              fmt(t_engine.cpu / t_no_text.cpu) + "x");
    print_row("ratio engine/without the visit totals (CPU)",
              fmt(t_engine.cpu / t_no_totals.cpu) + "x");
    print_row("baseline: bare table", line(t_raw));
    print_row("baseline: bare table, binds copied", line(t_raw_copied));
    print_row("baseline: event row + table row", line(t_design));
    print_row("ratio engine/bare (wall)", fmt(t_engine.wall / t_raw.wall) + "x");
    print_row("ratio engine/bare (CPU)", fmt(t_engine.cpu / t_raw.cpu) + "x");
    print_row("ratio engine/bare, binds copied (wall)",
              fmt(t_engine.wall / t_raw_copied.wall) + "x");
    print_row("ratio engine/bare, binds copied (CPU)", fmt(t_engine.cpu / t_raw_copied.cpu) + "x");
    print_row("ratio engine/event+table (wall)", fmt(t_engine.wall / t_design.wall) + "x");
    print_row("ratio engine/event+table (CPU)", fmt(t_engine.cpu / t_design.cpu) + "x");
    print_row("target", "engine within 3x of the bare table");
    print_load();
    return 0;
}
