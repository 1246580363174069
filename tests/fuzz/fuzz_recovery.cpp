// `caravan salvage` reads a damaged database page by page (storage/src/recovery.cpp): whatever
// the damage, it must answer with whole rows or an error — never a crash, a hang, an
// out-of-bounds read or a row returned twice. Each input is a list of damage patches applied to
// one healthy device database made once per process (four bytes a patch: a 24-bit offset into
// the file and the byte written there), so the fuzzer explores realistic damage of a real
// file rather than random bytes SQLite's header check would reject at once.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "app.hpp"
#include "caravan/storage/recovery.hpp"

namespace fs = std::filesystem;
using namespace caravan;

namespace {

void require(bool condition) {
    if (!condition) {
        std::abort(); // the fuzzer reports it with the input that caused it
    }
}

struct Fixture {
    fs::path dir;
    std::string pristine; // the healthy file's bytes (WAL checkpointed into it)
    std::size_t events = 0;
};

void cli(const fs::path& db, std::vector<std::string> args) {
    args.insert(args.begin(), {"--db", db.string()});
    std::ostringstream out, err;
    require(cli::run(args, out, err) == 0);
}

fs::path g_dir; // removed at exit

Fixture make_fixture() {
    Fixture f;
    f.dir = fs::temp_directory_path() / ("caravan-fuzz-recovery-" + std::to_string(::getpid()));
    g_dir = f.dir;
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(g_dir, ec);
    });
    fs::remove_all(f.dir);
    fs::create_directories(f.dir);
    const fs::path db = f.dir / "healthy.db";
    cli(db, {"init", "--lawyer", "Арнат Ұлтанбаев", "--region", "Ақтөбе обл."});
    cli(db, {"village", "add", "Қызылжар", "--region", "Ақтөбе обл."});
    cli(db, {"visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"});
    for (int i = 0; i < 40; ++i) {
        // Long enough text that some payloads spill onto overflow pages.
        std::string question(i % 7 == 0 ? 5000 : 60, static_cast<char>('a' + i % 26));
        cli(db, {"consult", "add", "--gender", "female", "--age", "33-45", "--category",
                 "unemployed", "--topic", "land", "--outcome", "advice", "--question", question});
    }
    // A backup is a single file with everything checkpointed into it.
    cli(db, {"backup", (f.dir / "pristine.db").string()});
    std::ifstream in(f.dir / "pristine.db", std::ios::binary);
    f.pristine.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    require(f.pristine.size() >= 4096);
    auto healthy = storage::recover_event_log(f.dir / "pristine.db", f.dir / "scratch");
    require(healthy.has_value());
    f.events = healthy->events.size();
    require(f.events >= 40);
    return f;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const Fixture fixture = make_fixture();
    std::string bytes = fixture.pristine;
    for (std::size_t i = 0; i + 4 <= size && i < 4 * 512; i += 4) {
        const std::size_t offset =
            (std::size_t(data[i]) << 16 | std::size_t(data[i + 1]) << 8 | data[i + 2]) %
            bytes.size();
        bytes[offset] = static_cast<char>(data[i + 3]);
    }
    const fs::path damaged = fixture.dir / "damaged.db";
    {
        std::ofstream out(damaged, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        require(static_cast<bool>(out));
    }
    auto recovered = storage::recover_event_log(damaged, fixture.dir / "scratch");
    require(!fs::exists(fixture.dir / "scratch")); // copies are removed, whatever happened
    if (!recovered) {
        return 0;
    }
    // One row per (device_id, seq), in log order. (No "nothing invented" check: SQLite pages
    // carry no checksum, so a byte changed inside a row's text is undetectable by design.)
    std::set<std::pair<std::string, std::int64_t>> keys;
    std::int64_t last_position = 0;
    for (const auto& e : recovered->events) {
        require(keys.emplace(e.device_id, e.seq).second);
        require(e.log_position >= last_position);
        last_position = e.log_position;
    }
    require(recovered->pages >= 0 && recovered->pages_skipped <= recovered->pages);
    return 0;
}
