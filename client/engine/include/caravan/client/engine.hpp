#pragma once
// The device engine: records field work as events and answers queries from the projections.
//
// Contract:
// - Every write appends one event per changed record to the event log and applies it to the
//   projections in the same SQLite transaction; when a write method returns a value, the change
//   is durable (synchronous=FULL) and visible.
// - Invalid input returns invalid_input (or not_found / ambiguous for references) and changes
//   nothing. Messages name the field, never echo free text (it may be personal data).
// - Writes can be grouped with batch(): one transaction, all or nothing.
// - Recording scope (docs/security.md, "A lawyer's records stay in the lawyer's regions"): once
//   the device is enrolled as a lawyer (settings sync.role and sync.regions, written by the sync
//   agent from the server's enrollment answer), every write that places a record in a region
//   (a village, a visit, anything under a visit, an edit or removal of such a record) is refused
//   with invalid_input when that region is not one of the enrolled regions, and changes
//   nothing. A coordinator's device, and a device not enrolled yet, record in any region.
// - An Engine is used from one thread. Several processes may open the same file: writers take
//   the lock at the start of a write and wait up to the busy timeout, then fail with `busy`.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "caravan/client/model.hpp"
#include "caravan/client/projector.hpp"
#include "caravan/storage/database.hpp"
#include "caravan/storage/event_log.hpp"

namespace caravan::client {

struct EngineOptions {
    // Create the file when it is missing. When false, a missing file is `not_initialized`
    // and nothing is created (no -wal or -shm either).
    bool create = true;
    // With `create`: also create a missing parent directory (0700); when false it is refused.
    bool create_directories = true;
    int busy_timeout_ms = 5000;
    bool integrity_check = true;
    // Physical clock in Unix milliseconds; tests skew it.
    std::function<std::int64_t()> clock;
    // When positive: this connection cannot grow the file beyond that many pages (writes past it
    // fail with storage_full), for tests of a full disk.
    std::int64_t max_page_count = 0;
};

struct SalvageOptions;
struct SalvageReport;

// SQLite application_id of device databases ("CRVN").
inline constexpr std::uint32_t k_device_application_id = 0x4352564e;

class Engine {
  public:
    // Opens (creating if needed) and migrates a device database.
    [[nodiscard]] static Result<Engine> open(const std::filesystem::path& path,
                                             EngineOptions options = {});
    Engine(Engine&&) noexcept;
    Engine& operator=(Engine&&) noexcept;
    ~Engine();

    // ---- identity --------------------------------------------------------------------------
    // Creates this device's identity; `conflict` if already initialised. A lawyer's device:
    // the region (its home region) is required.
    [[nodiscard]] Result<Device> init(const std::string& lawyer, const std::string& region);
    // The same for a coordinator's device, which has no home region (Device::region empty).
    // Which regions a device records in is decided by its enrollment, not by this.
    [[nodiscard]] Result<Device> init_coordinator(const std::string& name);
    // not_initialized until init() ran.
    [[nodiscard]] Result<Device> device();

    // ---- villages --------------------------------------------------------------------------
    // `conflict` when a village of that name already exists in that region.
    [[nodiscard]] Result<Village> add_village(const VillageInput& input);
    [[nodiscard]] Result<std::vector<Village>> list_villages(
        const std::optional<std::string>& region = std::nullopt);
    // By id, id fragment, or unambiguous name / name prefix (case-insensitive, Kazakh and
    // Russian letters included).
    [[nodiscard]] Result<Village> find_village(std::string_view ref);
    // The regions this device may record in (docs/security.md): nullopt for any region (a
    // coordinator's device, or one not enrolled yet).
    [[nodiscard]] Result<std::optional<std::vector<std::string>>> recording_regions();
    // True when a record placed in `region` may be recorded here: the check every write makes
    // (case and runs of spaces aside).
    [[nodiscard]] Result<bool> may_record_in(std::string_view region);
    // The canonical spelling of a region that records use, for any case/spacing of it.
    [[nodiscard]] Result<std::string> find_region(std::string_view ref);

    // ---- visits ----------------------------------------------------------------------------
    // Starts a visit (date: today when absent) and makes it the current one.
    [[nodiscard]] Result<Visit> start_visit(std::string_view village_ref,
                                            const std::optional<std::string>& date);
    // Closes the referenced visit (current when absent); clears "current" if it was.
    [[nodiscard]] Result<Visit> close_visit(const std::optional<std::string>& ref);
    [[nodiscard]] Result<std::optional<Visit>> current_visit();
    // "current", an id or id fragment, or a village name (its only / only open visit).
    [[nodiscard]] Result<Visit> find_visit(std::string_view ref);
    [[nodiscard]] Result<std::vector<Visit>> list_visits();
    // Records a visit that took place earlier (imported journals): created closed under the given
    // id (a lowercase UUID) and lawyer; the current visit is left as it is. not_found when the
    // village is unknown, `conflict` when a visit with this id exists.
    [[nodiscard]] Result<Visit> add_past_visit(const std::string& id, const std::string& village_id,
                                               const std::string& date,
                                               const std::string& lawyer);

    // ---- records at a visit ----------------------------------------------------------------
    [[nodiscard]] Result<Attendance> add_attendance(const AttendanceInput& input);
    [[nodiscard]] Result<Consultation> add_consultation(const ConsultationInput& input);
    [[nodiscard]] Result<Consultation> edit_consultation(std::string_view ref,
                                                         const ConsultationPatch& patch);
    [[nodiscard]] Result<Consultation> remove_consultation(std::string_view ref);
    // Brings a deleted consultation back (docs/sync-algorithm.md 2.5): one ordinary update event
    // writing `deleted = false`, based on every field version seen here. Its version is above
    // the delete it answers (the clock has observed every event applied here), so it wins by
    // last-writer-wins on every device that receives both. The record returns with its newest
    // field values, edits made while it was deleted included. `ref` is an id or id fragment of
    // a deleted consultation: not_found when none matches, `conflict` when it is not deleted,
    // ambiguous when the fragment names several.
    [[nodiscard]] Result<Consultation> undelete_consultation(std::string_view ref);
    [[nodiscard]] Result<Consultation> find_consultation(std::string_view ref);
    // True when a consultation with exactly this id has been recorded here, deleted ones
    // included. One indexed lookup (for bulk imports).
    [[nodiscard]] Result<bool> has_consultation(std::string_view id);
    // Streams matching consultations ordered by visit date then id (ConsultationFilter says
    // which way); the visitor returns false to stop. Memory does not grow with the number of
    // rows. Every condition but `text` is applied in SQL; newest first, rows are read from the
    // latest visit back, so a visitor that stops after N rows reads about N rows.
    [[nodiscard]] Result<void> list_consultations(
        const ConsultationFilter& filter,
        const std::function<bool(const Consultation&)>& visitor);
    [[nodiscard]] Result<std::vector<HistoryEntry>> consultation_history(std::string_view ref);
    [[nodiscard]] Result<Survey> add_survey(const SurveyInput& input);
    // Reads each file (all must be readable, or nothing is recorded) and records its metadata.
    // Each file is also copied, durably, into the device's photo folder (photo_folder()) under
    // its SHA-256 (the same bytes are kept once); a copy that cannot be made records nothing.
    [[nodiscard]] Result<std::vector<PhotoAdded>> add_photos(const PhotoInput& input);
    // <the database's folder>/photos: this device's copies of the photos it recorded.
    [[nodiscard]] std::filesystem::path photo_folder() const;
    // This device's copy of the photo with that SHA-256 (64 lowercase hex digits); nullopt when
    // it has none (a photo recorded on another laptop, or before copies were kept).
    [[nodiscard]] std::optional<std::filesystem::path> photo_copy(std::string_view sha256) const;
    // The JPEG thumbnail a camera put in a photo's EXIF; nullopt when there is none.
    [[nodiscard]] static std::optional<std::string> photo_thumbnail(const std::filesystem::path& file);

    [[nodiscard]] Result<std::vector<ConflictEntry>> conflicts();
    // The lawyer's name of every device known here (its `device` record, local or synced), by
    // device id; an empty name when the record has none.
    [[nodiscard]] Result<std::map<std::string, std::string>> lawyers();
    [[nodiscard]] Result<Status> status();

    // ---- maintenance -------------------------------------------------------------------------
    struct CheckReport {
        std::vector<std::string> integrity_problems; // PRAGMA integrity_check lines
        // A rebuild from the event log gives identical rows, and the consultations' text
        // index holds exactly their text.
        bool projections_match = true;
        std::string live_fingerprint;
        std::string rebuilt_fingerprint;
        std::int64_t events = 0;
        [[nodiscard]] bool ok() const { return integrity_problems.empty() && projections_match; }
    };
    // Integrity check of the file, then a rebuild of every projection from the event log in a
    // temporary copy (`scratch_dir`; in memory when that disk is full), compared with the live
    // projections. A damaged file is reported in integrity_problems (also when SQLite stops the
    // check itself) and its projections are not compared (projections_match false).
    [[nodiscard]] Result<CheckReport> check(const std::filesystem::path& scratch_dir);
    // A consistent copy of the database while it is in use (SQLite online backup).
    [[nodiscard]] Result<void> backup(const std::filesystem::path& target);
    // Replaces the whole database with the content of the database file `source` (a backup),
    // under the write lock (the online backup API in reverse): other readers see the old or the
    // new content, never a mix. The caller has checked that `source` is a sound device database.
    [[nodiscard]] Result<void> restore_from(const std::filesystem::path& source);
    // Empties every projection and re-applies the whole event log, in one transaction (or the
    // current batch's). On a sound database the projections come out identical (check()).
    [[nodiscard]] Result<void> rebuild_projections();
    // SHA-256 over every projection row and conflict, in id order: equal fingerprints mean equal
    // projections (two devices that hold the same events agree).
    [[nodiscard]] Result<std::string> fingerprint();

    // ---- reading for the exports ---------------------------------------------------------------
    // The exports (client/exports) read the projection tables of a device or coordinator
    // database through a storage::Database&. A ReadView lends them this engine's connection with
    // every write refused (PRAGMA query_only) until the view is destroyed. The engine's own
    // connection rather than a second one on the file: a full disk's database is open in
    // exclusive locking mode (storage/database.hpp), and a second connection could not read it.
    // While a view is alive the engine must not write (its writes fail as well); one view at a
    // time; the view must not outlive the engine.
    class ReadView {
      public:
        ReadView(ReadView&& other) noexcept : m_db(other.m_db) { other.m_db = nullptr; }
        ReadView& operator=(ReadView&&) = delete;
        ReadView(const ReadView&) = delete;
        ~ReadView();
        [[nodiscard]] storage::Database& database() { return *m_db; }

      private:
        friend class Engine;
        explicit ReadView(storage::Database& db) : m_db(&db) {}
        storage::Database* m_db;
    };
    // Fails only when SQLite refuses the pragma (`internal` inside a batch).
    [[nodiscard]] Result<ReadView> read_view();

    // Runs `work` in one transaction: every write inside commits together or not at all.
    [[nodiscard]] Result<void> batch(const std::function<Result<void>()>& work);

    // ---- for sync ----------------------------------------------------------------------------
    // Applies an event from another device (or re-applies one of ours). Idempotent: true when
    // it was new. Validates first; an invalid event changes nothing.
    [[nodiscard]] Result<bool> apply_remote(storage::Event event);
    // Recovery of a clock poisoned before received clocks were bounded (docs/sync-algorithm.md,
    // "Clock rules"): every own event the server has not acknowledged (seq above the stored
    // push_acked_seq) from the first one whose clock lies beyond clock_ceiling(now,
    // Hlc::k_device_max_lead_ms) or below
    // zero is stamped again, in seq order, with fresh values from the greatest believable clock
    // this database holds; `base` versions naming a re-stamped event follow it; the projections
    // are rebuilt; the stored clock comes back within the bound. Acknowledged events are never
    // touched. One transaction; returns how many events were re-stamped (0: nothing to do).
    // Every write runs the same repair first when the stored clock is beyond the bound; the
    // sync agent calls this before it pushes.
    [[nodiscard]] Result<std::int64_t> repair_clock();

    // Reads of the event log (events of every device: this one's and those pulled from others),
    // a page at a time: the caller bounds each read with `limit` and pages with `after`.
    //
    // Events of `device_id` with seq > after_seq, in seq order, at most `limit`.
    [[nodiscard]] Result<std::vector<storage::Event>> device_events(std::string_view device_id,
                                                                    std::int64_t after_seq,
                                                                    std::int64_t limit);
    // Highest seq stored for `device_id`, 0 when none.
    [[nodiscard]] Result<std::int64_t> last_seq(std::string_view device_id);
    [[nodiscard]] Result<std::optional<storage::Event>> find_event(std::string_view device_id,
                                                                   std::int64_t seq);
    // Visits the events with log_position > after, in log order, at most `limit` of them; the
    // visitor returns false to stop early. Returns the number visited.
    [[nodiscard]] Result<std::int64_t> scan_events(
        std::int64_t after, std::int64_t limit,
        const std::function<bool(const storage::Event&)>& visitor);
    // Number of events in the log.
    [[nodiscard]] Result<std::int64_t> event_count();
    // The highest s such that every event of `device_id` with seq <= s knows its server_seq
    // (0 when the first does not).
    [[nodiscard]] Result<std::int64_t> server_seq_known_upto(std::string_view device_id);

    // ---- for sync: what the server acknowledged ----------------------------------------------
    // The engine owns `push_acked_seq`, the highest own seq the server acknowledged: status()
    // counts the events above it as unsynced, repair_clock() never touches those below it. The
    // sync agent moves it only through the three methods below, inside its batch() when the
    // change must commit with its own state.
    //
    // 0 when never acknowledged; `corrupt` when the stored value is not a number.
    [[nodiscard]] Result<std::int64_t> push_acked_seq();
    struct AcceptedEvent {
        std::int64_t seq = 0;        // an own event's seq
        std::int64_t server_seq = 0; // its position in the server's change feed
    };
    // The server holds this device's events up to `acked_seq` and gave the feed positions of
    // `accepted` (own events): both are recorded, in the current batch or a transaction of their
    // own. not_initialized before init().
    [[nodiscard]] Result<void> acknowledge_push(std::int64_t acked_seq,
                                                const std::vector<AcceptedEvent>& accepted);
    // The server holds less than was acknowledged (it was restored from a backup, or this device
    // enrolled with another server): push_acked_seq becomes `seq`, so the events after it are
    // offered again.
    [[nodiscard]] Result<void> rewind_push_ack(std::int64_t seq);
    // The server's feed was replaced (a new epoch): every known server_seq is forgotten; they
    // are learned again from push results and pulls.
    [[nodiscard]] Result<void> forget_server_seqs();

    // ---- for sync: device rotation, the local half (docs/sync-algorithm.md 9) ----------------
    // After the server refused this device's log with `sequence_conflict` (the database was
    // restored from an older backup, or copied to a second laptop, and then written to), the
    // device continues under a NEW device id that the server issued with the same enrollment.
    //
    // In ONE transaction: every local event of `old_id` with seq >= `from_seq` (the events the
    // server does not hold identically) is written again under `new_id` with seqs 1, 2, ...
    // (after a `device` record for the new id), in the old seq order, with fresh clock values
    // (ticked from `now_ms`) greater than every believable clock value in the local log, and
    // with `base` versions that named a re-issued event renamed to its new version; the
    // superseded copies are removed; every projection is rebuilt from the log; the identity
    // becomes `new_id`, with nothing acknowledged (push_acked_seq 0); then `finish` runs, still
    // inside the transaction (the sync agent stores its new token and cursor there, and drops
    // its quarantine rows of the superseded copies); engine methods called from `finish` join
    // the transaction. All of it commits together or not at all.
    // - Idempotent: when the identity already is `new_id`, nothing is done (`finish` does not
    //   run) and `already` is true.
    // - `conflict` when the identity is neither id, or `new_id` already has events here;
    //   `corrupt` when an event to re-issue has an unreadable payload.
    // - Events of other devices and events of `old_id` below `from_seq` are not touched; nothing
    //   the lawyer recorded is dropped (a `create` of the old device record itself is replaced
    //   by the new id's own).
    struct Reissued {
        std::int64_t reissued = 0;     // old events written again under the new id
        std::int64_t new_last_seq = 0; // the new id's last seq
        bool already = false;
    };
    [[nodiscard]] Result<Reissued> reissue_under_new_id(const std::string& old_id,
                                                        const std::string& new_id,
                                                        std::int64_t from_seq, std::int64_t now_ms,
                                                        const std::function<Result<void>()>& finish);

    // ---- state other components keep in this file ---------------------------------------------
    // The sync agent keeps its own tables (sync_log, quarantine) and `sync.*` settings in the
    // device file (sync/agent/agent_state.hpp), written inside batch() so that they commit with
    // the engine's rows they describe (a pulled page and its cursor, a push result and its
    // quarantine rows). This is the connection for THAT state only: the engine's tables (events,
    // projections, conflicts) and settings (identity, clock, current visit, push_acked_seq)
    // are read and changed through the methods above and nowhere else.
    [[nodiscard]] storage::Database& component_storage() { return m_db; }


  private:
    // Salvage (salvage.hpp) builds a new database from what it read of a damaged one: it writes
    // the recovered settings and events straight into the new engine's tables.
    friend Result<SalvageReport> salvage(const std::filesystem::path& damaged,
                                         const std::filesystem::path& target,
                                         const SalvageOptions& options);
    struct WriteState;
    Engine(storage::Database db, EngineOptions options);

    // Runs `work` inside the current write transaction, or a new one.
    [[nodiscard]] Result<void> write(const std::function<Result<void>()>& work);
    // Appends and applies one local event. Must run inside write().
    [[nodiscard]] Result<storage::Event> record(const EntityDef& def, const std::string& id,
                                                std::string_view op,
                                                const nlohmann::json& fields,
                                                const nlohmann::json& base);
    // The same for a create: its payload written and its row bound from typed values.
    [[nodiscard]] Result<storage::Event> record(const NewRecord& record, const std::string& id);
    template <class Project>
    [[nodiscard]] Result<storage::Event> append_local(const EntityDef& def, const std::string& id,
                                                      std::string_view op, std::string payload,
                                                      Project&& project);
    [[nodiscard]] Result<Device> require_device();
    // Writes the identity of init() and init_coordinator(), both already validated.
    [[nodiscard]] Result<Device> create_identity(const std::string& lawyer,
                                                 const std::string& region);
    // The regions this device may record in (RecordingScope::any for a coordinator or a device
    // not enrolled); read once per write transaction.
    struct RecordingScope;
    [[nodiscard]] Result<RecordingScope> recording_scope();
    // invalid_input unless `region` is in the recording scope. `visit_id`: the visit the record
    // is taken under, named in the message (empty for a village or a new visit).
    [[nodiscard]] Result<void> require_in_scope(const std::string& region,
                                                const std::string& visit_id = {});
    // The repair behind repair_clock(), inside the open write transaction.
    [[nodiscard]] Result<std::int64_t> restamp_unsent(std::int64_t now_ms);
    // The rewrite behind reissue_under_new_id(), inside its open transaction.
    [[nodiscard]] Result<Reissued> reissue(const std::string& old_id, const std::string& new_id,
                                           std::int64_t from_seq, std::int64_t now_ms);
    // The stored push_acked_seq (see push_acked_seq()); 0 when absent or unreadable.
    [[nodiscard]] Result<std::int64_t> acked_seq();
    [[nodiscard]] Result<Visit> visit_for(const std::optional<std::string>& ref);
    // Copies `file` into photo_folder() as <sha256><extension> unless it is there already.
    [[nodiscard]] Result<std::filesystem::path> keep_photo_copy(const std::filesystem::path& file,
                                                                const std::string& sha256);
    [[nodiscard]] Result<Visit> load_visit(const std::string& id);
    [[nodiscard]] Result<Consultation> load_consultation(const std::string& id);
    [[nodiscard]] Result<std::string> resolve_id(std::string_view table, std::string_view ref,
                                                 std::string_view what);

    storage::Database m_db;
    storage::EventLog m_log;
    storage::Settings m_settings;
    Projector m_projector;
    EngineOptions m_options;
    std::unique_ptr<WriteState> m_write;
    // The current visit as read inside the open write transaction, so that a batch of adds
    // looks it up once. Forgotten when a visit, a village or the current-visit setting is
    // written, and when the transaction ends.
    std::optional<std::optional<Visit>> m_current_visit;
};

// Default database path: $CARAVAN_DB, else $XDG_DATA_HOME/caravan/caravan.db, else
// ~/.local/share/caravan/caravan.db.
[[nodiscard]] std::filesystem::path default_database_path();

} // namespace caravan::client
