// Salvage of a damaged device database into a new one.

#include "caravan/client/salvage.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "caravan/client/engine.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/recovery.hpp"
#include "caravan/storage/transaction.hpp"
#include "settings_keys.hpp"

namespace caravan::client {

namespace fs = std::filesystem;

nlohmann::json to_json(const SalvageReport& r) {
    nlohmann::json missing = nlohmann::json::array();
    for (const auto& range : r.missing) {
        missing.push_back({{"device_id", range.device_id},
                           {"from_seq", range.from_seq},
                           {"to_seq", range.to_seq}});
    }
    return {{"events_recovered", r.events_recovered},
            {"events_invalid", r.events_invalid},
            {"events_lost", r.events_lost},
            {"missing", missing},
            {"missing_unknown", r.missing_unknown},
            {"identity_recovered", r.identity_recovered},
            {"settings_recovered", r.settings_recovered},
            {"settings_complete", r.settings_complete},
            {"schema_found", r.schema_found},
            {"own_acked_missing", r.own_acked_missing},
            {"pages", r.pages},
            {"pages_skipped", r.pages_skipped}};
}

namespace {

void remove_database_files(const fs::path& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) {
        fs::remove(path.string() + suffix, ec);
    }
}

// Consecutive sequence numbers of one device merged into ranges.
std::vector<SalvageReport::Range> ranges_of(std::vector<storage::EventKey> keys) {
    std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
        return std::tie(a.device_id, a.seq) < std::tie(b.device_id, b.seq);
    });
    std::vector<SalvageReport::Range> ranges;
    for (const auto& k : keys) {
        if (!ranges.empty() && ranges.back().device_id == k.device_id &&
            ranges.back().to_seq + 1 >= k.seq) {
            ranges.back().to_seq = std::max(ranges.back().to_seq, k.seq);
        } else {
            ranges.push_back({k.device_id, k.seq, k.seq});
        }
    }
    return ranges;
}

} // namespace

Result<SalvageReport> salvage(const fs::path& damaged, const fs::path& target,
                              const SalvageOptions& options) {
    std::error_code ec;
    if (!fs::exists(damaged, ec)) {
        return fail(ErrorCode::not_initialized, msg::database_not_created, damaged.string());
    }
    if (fs::exists(target, ec) || fs::equivalent(target, damaged, ec)) {
        return fail(ErrorCode::invalid_input, msg::salvage_target_exists, target.string());
    }
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    if (!fs::is_directory(dir, ec)) {
        return fail(ErrorCode::invalid_input, msg::salvage_no_directory, dir.string());
    }
    const fs::path partial = target.string() + ".partial";
    const fs::path scratch = target.string() + ".scratch";
    remove_database_files(partial);

    auto recovered = storage::recover_event_log(damaged, scratch);
    if (!recovered) {
        return tl::unexpected(recovered.error());
    }
    SalvageReport report;
    report.schema_found = recovered->schema_found;
    report.settings_complete = recovered->settings_complete;
    report.pages = recovered->pages;
    report.pages_skipped = recovered->pages_skipped;

    std::vector<storage::EventKey> left_out = recovered->unreadable;
    std::set<std::int64_t> found_positions; // recovered or left out, by original log position
    std::int64_t own_max_seq = 0;
    std::optional<std::string> own_id;
    std::int64_t acked = 0; // the server's acknowledgement; 0 when none was readable
    for (const auto& [key, value] : recovered->settings) {
        if (key == key::device_id) {
            own_id = value;
        } else if (key == key::push_acked_seq) {
            try {
                acked = std::stoll(value);
            } catch (const std::exception&) {
                acked = 0;
            }
        }
    }

    auto built = [&]() -> Result<void> {
        EngineOptions engine_options;
        engine_options.create_directories = false;
        auto engine = Engine::open(partial, engine_options);
        if (!engine) {
            return tl::unexpected(engine.error());
        }
        auto tx = storage::Transaction::begin(engine->m_db);
        if (!tx) {
            return tl::unexpected(tx.error());
        }
        storage::Settings settings(engine->m_db);
        std::set<std::string> identity;
        std::optional<Hlc> clock;
        for (const auto& [key, value] : recovered->settings) {
            if (std::find(options.drop_settings.begin(), options.drop_settings.end(), key) !=
                options.drop_settings.end()) {
                continue;
            }
            if (key == key::hlc) {
                clock = Hlc::from_hex(value);
            }
            if (key == key::device_id || key == key::lawyer || key == key::region) {
                identity.insert(key);
            }
            if (auto ok = settings.set(key, value); !ok) {
                return ok;
            }
            ++report.settings_recovered;
        }
        report.identity_recovered = identity.size() == 3;
        for (const storage::Event& original : recovered->events) {
            found_positions.insert(original.log_position);
            storage::Event e = original;
            bool appended = false;
            if (validate_event(e)) {
                auto ok = engine->m_log.append(e);
                appended = ok && *ok;
                if (!ok && ok.error().code != ErrorCode::conflict &&
                    ok.error().code != ErrorCode::invalid_input) {
                    return tl::unexpected(ok.error());
                }
            }
            if (!appended) {
                left_out.push_back({original.device_id, original.seq, original.log_position});
                continue;
            }
            ++report.events_recovered;
            if (!clock || Hlc{e.hlc} > *clock) {
                clock = Hlc{e.hlc};
            }
            if (own_id && e.device_id == *own_id) {
                own_max_seq = std::max(own_max_seq, e.seq);
            }
        }
        if (clock) {
            if (auto ok = settings.set(key::hlc, clock->to_hex()); !ok) {
                return ok;
            }
        }
        if (auto ok = client::rebuild_projections(engine->m_db, engine->m_projector); !ok) {
            return ok;
        }
        // A current visit whose events were lost is no longer current.
        if (auto current = engine->current_visit(); !current) {
            if (auto ok = settings.erase(key::current_visit); !ok) {
                return ok;
            }
        }
        return tx->commit();
    }();
    if (!built) {
        remove_database_files(partial);
        return tl::unexpected(built.error());
    }
    fs::rename(partial, target, ec);
    if (ec) {
        remove_database_files(partial);
        return fail(ErrorCode::io, msg::salvage_cannot_write, target.string(), ec.message());
    }

    // What existed but was not recovered: keys of the (device_id, seq) index, rows found but
    // left out, and the gaps in the log positions (which are dense: 1, 2, 3, ...).
    for (const auto& k : recovered->unreadable) {
        found_positions.insert(k.log_position);
    }
    report.events_invalid = static_cast<std::int64_t>(left_out.size());
    std::map<std::int64_t, const storage::EventKey*> indexed;
    std::int64_t highest = found_positions.empty() ? 0 : *found_positions.rbegin();
    for (const auto& k : recovered->index_keys) {
        indexed[k.log_position] = &k;
        highest = std::max(highest, k.log_position);
    }
    std::vector<storage::EventKey> missing;
    for (std::int64_t position = 1; position <= highest; ++position) {
        if (found_positions.count(position) != 0) {
            continue;
        }
        ++report.events_lost;
        if (auto at = indexed.find(position); at != indexed.end()) {
            missing.push_back(*at->second);
        } else {
            ++report.missing_unknown;
        }
    }
    for (const auto& k : left_out) {
        if (!k.device_id.empty()) {
            missing.push_back(k);
        } else {
            ++report.missing_unknown;
        }
    }
    report.missing = ranges_of(std::move(missing));
    if (acked > own_max_seq) {
        report.own_acked_missing = acked - own_max_seq;
    }
    return report;
}

} // namespace caravan::client
