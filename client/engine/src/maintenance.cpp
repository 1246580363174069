// Integrity check, backup, restore and projection rebuild of a device database; the read view
// the exports read through.

#include <unistd.h>

#include "caravan/client/engine.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/search_index.hpp"
#include "caravan/client/visit_totals.hpp"
#include "caravan/storage/transaction.hpp"

namespace caravan::client {

Result<Engine::CheckReport> Engine::check(const std::filesystem::path& scratch_dir) {
    CheckReport report;
    auto problems = m_db.integrity_check();
    if (!problems && problems.error().code != ErrorCode::corrupt) {
        return tl::unexpected(problems.error());
    }
    // SQLite may stop the check itself at a damaged page; that is a finding, not a failure.
    report.integrity_problems =
        problems ? std::move(*problems) : std::vector<std::string>{problems.error().message};
    if (!report.integrity_problems.empty()) {
        // Reading the log or the projections of a damaged file proves nothing more.
        report.projections_match = false;
        return report;
    }
    auto events = m_log.count();
    if (!events) {
        return tl::unexpected(events.error());
    }
    report.events = *events;
    auto live = m_projector.fingerprint();
    if (!live) {
        return tl::unexpected(live.error());
    }
    report.live_fingerprint = *live;

    std::error_code ec;
    std::filesystem::create_directories(scratch_dir, ec);
    auto copy_path = scratch_dir / ("caravan-check-" + std::to_string(::getpid()) + ".db");
    auto remove_copy = [&] {
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::remove(copy_path.string() + suffix, ec);
        }
    };
    // The copy goes beside the database; on a full disk it is made in memory instead, so that
    // checking needs no disk space.
    bool in_memory = false;
    if (auto ok = m_db.backup_to(copy_path); !ok) {
        remove_copy();
        if (ok.error().code != ErrorCode::storage_full) {
            return tl::unexpected(ok.error());
        }
        in_memory = true;
    }
    auto rebuilt = [&]() -> Result<std::string> {
        EngineOptions options;
        options.integrity_check = false;
        auto copy = Engine::open(in_memory ? std::filesystem::path(":memory:") : copy_path,
                                 options);
        if (!copy) {
            return tl::unexpected(copy.error());
        }
        if (in_memory) {
            if (auto ok = m_db.copy_to(copy->m_db); !ok) {
                return tl::unexpected(ok.error());
            }
        }
        auto ok = copy->batch(
            [&] { return client::rebuild_projections(copy->m_db, copy->m_projector); });
        if (!ok) {
            return tl::unexpected(ok.error());
        }
        return copy->fingerprint();
    }();
    remove_copy();
    if (!rebuilt) {
        return tl::unexpected(rebuilt.error());
    }
    report.rebuilt_fingerprint = *rebuilt;
    // The text index and the visit totals are projections too: of the consultations' text,
    // and of what each visit's records add up to.
    CARAVAN_TRY(index_matches, search_index::matches_table(m_db));
    CARAVAN_TRY(totals_match, visit_totals::matches_tables(m_db));
    report.projections_match =
        report.rebuilt_fingerprint == report.live_fingerprint && index_matches && totals_match;
    return report;
}

Result<void> Engine::backup(const std::filesystem::path& target) {
    std::error_code ec;
    if (std::filesystem::equivalent(target, m_db.path(), ec)) {
        return fail(ErrorCode::invalid_input, msg::backup_onto_itself);
    }
    auto tmp = target;
    tmp += ".partial";
    if (auto ok = m_db.backup_to(tmp); !ok) {
        std::filesystem::remove(tmp, ec);
        return ok;
    }
    std::filesystem::rename(tmp, target, ec);
    if (ec) {
        std::filesystem::remove(tmp, ec);
        return fail(ErrorCode::io, msg::backup_cannot_write, target.string());
    }
    return {};
}

Result<void> Engine::restore_from(const std::filesystem::path& source) {
    m_current_visit.reset();
    return m_db.restore_from(source);
}

Result<void> Engine::rebuild_projections() {
    m_current_visit.reset();
    if (m_write) {
        return client::rebuild_projections(m_db, m_projector);
    }
    // Not write(): a rebuild stamps nothing, so it neither repairs nor stores the clock.
    auto tx = storage::Transaction::begin(m_db);
    if (!tx) {
        return tl::unexpected(tx.error());
    }
    if (auto ok = client::rebuild_projections(m_db, m_projector); !ok) {
        return ok;
    }
    return tx->commit();
}

Result<std::string> Engine::fingerprint() {
    return m_projector.fingerprint();
}

Result<Engine::ReadView> Engine::read_view() {
    if (m_write) {
        // i18n-exempt: a bug in the caller (a read view inside a batch), never shown to a user.
        return fail(ErrorCode::internal, "read_view inside a batch");
    }
    if (auto ok = m_db.exec("PRAGMA query_only = ON"); !ok) {
        return tl::unexpected(ok.error());
    }
    return ReadView(m_db);
}

Engine::ReadView::~ReadView() {
    if (m_db) {
        (void)m_db->exec("PRAGMA query_only = OFF");
    }
}

} // namespace caravan::client
