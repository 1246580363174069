#pragma once
// A device database holding a conflict, for the CLI tests that read one.

#include <string>

#include "../client/engine_helpers.hpp"
#include "temp_dir.hpp"

namespace caravan::test {

// Two laptops changed one consultation's outcome without seeing each other's change: a.db
// (Арнат Ұлтанбаев, 11:00 UTC on the field day: case taken on) and b.db (Гүлнар Сәрсенова,
// 11:01 UTC: document drafted, the later one, kept). b.db holds both. Returns the
// consultation's id.
inline std::string concurrent_outcomes(const TempDir& dir) {
    constexpr std::int64_t T = k_field_day_ms; // 2024-05-14 10:00 UTC
    SimDevice a(dir / "a.db", T), b(dir / "b.db", T + 500);
    start_field_day(*a, "Арнат Ұлтанбаев");
    a.advance(1000);
    std::string id = ok(a->add_consultation(consultation_input("Жер"))).id;
    ok(b->init("Гүлнар Сәрсенова", "Ақмола обл."));
    deliver(*a, *b);
    a.set_now(T + 3'600'000);
    b.set_now(T + 3'600'000 + 60'000);
    client::ConsultationPatch to_case, to_document;
    to_case.outcome = "case";
    to_document.outcome = "document";
    ok(a->edit_consultation(id, to_case));
    ok(b->edit_consultation(id, to_document));
    deliver(*a, *b);
    return id;
}

} // namespace caravan::test
