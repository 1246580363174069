#pragma once
// Salvage: recovers what can still be read of a damaged device database into a new one.
//
// Contract:
// - `damaged` is never written, moved or deleted (see storage::recover_event_log); `target`
//   must not exist and its directory must. The new database is built as `target`.partial and
//   renamed to `target` only when complete: on failure no file is left behind.
// - Every event read whole from the damaged file whose content validates is appended to the
//   new event log in its original order; the projections are then rebuilt from the log, so the
//   records shown are exactly what the recovered events say. An event that does not validate
//   (e.g. its overflow page was damaged) is left out and counted, never half applied.
// - The device's settings (identity, sync enrolment and token, clock, current visit) are kept
//   when their pages can be read, except the keys in `drop_settings`. The clock setting is
//   raised to the highest clock among the recovered events, so that new events still sort
//   after every recovered one.
// - The report holds counts, sequence ranges and device ids only: no record content.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "caravan/storage/result.hpp"

namespace caravan::client {

struct SalvageOptions {
    // Settings not carried over (the sync agent's pull position, so that the server's feed
    // is pulled again from the start and whatever the device lost of it comes back).
    std::vector<std::string> drop_settings;
};

struct SalvageReport {
    struct Range {
        std::string device_id;
        std::int64_t from_seq = 0;
        std::int64_t to_seq = 0;
    };
    std::int64_t events_recovered = 0; // written to the new database
    std::int64_t events_invalid = 0;   // found, but not whole or not valid: left out
    std::int64_t events_lost = 0;      // known to have existed (index, log positions), not found
    std::vector<Range> missing;        // per device, the sequence ranges left out or lost
    std::int64_t missing_unknown = 0;  // of the lost, those whose device and sequence are unknown
    bool identity_recovered = false;   // the device id, lawyer and region were read
    std::int64_t settings_recovered = 0;
    bool settings_complete = false; // every settings page could be read
    bool schema_found = false;      // false: the file's schema was unreadable (counts are
                                    // then lower bounds)
    // This device's own events that the server acknowledged but that were not recovered: a
    // sync pulls them back; until then new events could reuse their sequence numbers.
    std::int64_t own_acked_missing = 0;
    std::int64_t pages = 0;
    std::int64_t pages_skipped = 0;
};

[[nodiscard]] nlohmann::json to_json(const SalvageReport& report);

[[nodiscard]] Result<SalvageReport> salvage(const std::filesystem::path& damaged,
                                            const std::filesystem::path& target,
                                            const SalvageOptions& options = {});

} // namespace caravan::client
