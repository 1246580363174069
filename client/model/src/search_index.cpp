#include "caravan/client/search_index.hpp"

#include <cstring>

#include <nlohmann/json.hpp>

#include "caravan/client/text.hpp"
#include "caravan/storage/migrations.hpp"

namespace caravan::client::search_index {

using nlohmann::json;
using storage::Statement;

namespace {

// The triggers keep the index equal to the table: a row's old text leaves the index ('delete'
// with exactly the values that were indexed) before its new text enters. An update that leaves
// both texts as they were (most projector updates) costs nothing.
constexpr const char* k_triggers_sql = R"sql(
CREATE TRIGGER consultation_text_insert AFTER INSERT ON consultations BEGIN
  INSERT INTO consultation_text(rowid, question, advice)
  VALUES (new.rowid, new.question, new.advice);
END;
CREATE TRIGGER consultation_text_delete AFTER DELETE ON consultations BEGIN
  INSERT INTO consultation_text(consultation_text, rowid, question, advice)
  VALUES ('delete', old.rowid, old.question, old.advice);
END;
CREATE TRIGGER consultation_text_update AFTER UPDATE OF question, advice ON consultations
WHEN old.question IS NOT new.question OR old.advice IS NOT new.advice BEGIN
  INSERT INTO consultation_text(consultation_text, rowid, question, advice)
  VALUES ('delete', old.rowid, old.question, old.advice);
  INSERT INTO consultation_text(rowid, question, advice)
  VALUES (new.rowid, new.question, new.advice);
END;
)sql";

// IF EXISTS: a file may lack the index (an older backup restored under a running app); a
// rebuild then makes it.
constexpr const char* k_drop_triggers_sql = "DROP TRIGGER IF EXISTS consultation_text_insert;"
                                            "DROP TRIGGER IF EXISTS consultation_text_delete;"
                                            "DROP TRIGGER IF EXISTS consultation_text_update;";

constexpr const char* k_table_sql =
    "CREATE VIRTUAL TABLE IF NOT EXISTS consultation_text USING fts5("
    "question, advice, content='consultations', tokenize='trigram');";

// The consultations of the villages named in a JSON array (the second value of a search).
constexpr const char* k_village_candidates_sql =
    " UNION ALL SELECT c2.rowid FROM visits v2 JOIN consultations c2 ON c2.visit_id = v2.id"
    " WHERE v2.village_id IN (SELECT value FROM json_each(?))";

// Up to this many candidates are read and sorted; beyond, reading in the list's order finds a
// page of matches after about (page / share of rows that match) rows, which is soon.
constexpr std::size_t k_most_candidates = 2000;

constexpr const char* k_rebuild_sql =
    "INSERT INTO consultation_text(consultation_text) VALUES ('rebuild')";

} // namespace

Result<void> install(storage::Database& db) {
    static const std::string v1 = std::string(k_table_sql) + k_triggers_sql + k_rebuild_sql + ";";
    static const storage::Migration steps[] = {{1, v1}};
    return storage::migrate(db, "search", steps);
}

Result<void> drop_triggers(storage::Database& db) { return db.exec(k_drop_triggers_sql); }

Result<void> rebuild(storage::Database& db) {
    CARAVAN_TRY_VOID(db.exec(k_table_sql));
    CARAVAN_TRY_VOID(db.exec(k_triggers_sql));
    return db.exec(k_rebuild_sql);
}

Result<bool> present(storage::Database& db) {
    CARAVAN_TRY(n, db.query("SELECT count(*) FROM sqlite_schema WHERE name = ?",
                            std::string("consultation_text"))
                       .one<std::int64_t>());
    return n.value_or(0) > 0;
}

Result<bool> matches_table(storage::Database& db) {
    // No index at all (an older backup restored under a running app) does not match either.
    CARAVAN_TRY(has_index, present(db));
    if (!has_index) {
        return false;
    }
    // rank 1: the index is also compared with the content of `consultations`. A difference is
    // reported by SQLite as a damaged table (SQLITE_CORRUPT_VTAB).
    auto ok = db.exec("INSERT INTO consultation_text(consultation_text, rank)"
                      " VALUES ('integrity-check', 1)");
    if (!ok && ok.error().code != ErrorCode::corrupt) {
        return tl::unexpected(ok.error());
    }
    return ok.has_value();
}

std::vector<std::string> spellings(std::string_view folded) {
    // The letters fold_case() changes are ASCII capitals and two-byte Cyrillic ones (U+0400 to
    // U+04FF): each one's lower-case form is found by folding it.
    static const std::vector<std::pair<std::string, std::string>> capitals = [] {
        std::vector<std::pair<std::string, std::string>> pairs; // lower, upper
        auto add = [&](const std::string& upper) {
            if (std::string lower = fold_case(upper); lower != upper) {
                pairs.emplace_back(std::move(lower), upper);
            }
        };
        for (char c = 'A'; c <= 'Z'; ++c) {
            add(std::string(1, c));
        }
        for (char32_t cp = 0x400; cp <= 0x4ff; ++cp) {
            add({static_cast<char>(0xc0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3f))});
        }
        return pairs;
    }();
    std::vector<std::string> out{""};
    std::size_t i = 0;
    while (i < folded.size()) {
        // One code point: its UTF-8 length from its lead byte.
        const auto lead = static_cast<unsigned char>(folded[i]);
        const std::size_t n = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
        const std::string letter(folded.substr(i, n));
        i += n;
        std::vector<std::string> next;
        for (const std::string& prefix : out) {
            next.push_back(prefix + letter);
            for (const auto& [lower, upper] : capitals) {
                if (lower == letter) {
                    next.push_back(prefix + upper);
                }
            }
        }
        out = std::move(next);
    }
    return out;
}

std::string phrase_query(std::string_view text) {
    if (utf8_length(text) < 3) {
        return {};
    }
    std::string query = "\"";
    for (char c : text) {
        query += c;
        if (c == '"') {
            query += '"';
        }
    }
    return query + "\"";
}

Result<std::optional<Candidates>> candidates(storage::Database& db, const std::string& needle) {
    if (needle.empty()) {
        return std::nullopt;
    }
    json villages = json::array();
    std::string folded;
    CARAVAN_TRY_VOID(
        db.query("SELECT id, coalesce(name, '') FROM villages").each([&](const Statement& row) {
            fold_case(row.column_view(1), folded);
            if (folded.find(needle) != std::string::npos) {
                villages.push_back(row.column_text(0));
            }
            return true;
        }));
    const std::string phrase = phrase_query(needle);
    if (phrase.empty()) {
        // One or two letters: each spelling looked for in every text, read without joins or
        // order (a fraction of what reading the rows in the list's order costs).
        const std::vector<std::string> forms = spellings(needle);
        json rowids = json::array();
        bool many = false;
        CARAVAN_TRY_VOID(
            db.query("SELECT rowid, coalesce(question, ''), coalesce(advice, '')"
                     " FROM consultations")
                .each([&](const Statement& row) {
                    for (int column : {1, 2}) {
                        const std::string_view text = row.column_view(column);
                        for (const std::string& form : forms) {
                            // memmem: std::string_view::find stops at every byte equal to the
                            // first, which in Cyrillic text is every other byte.
                            if (::memmem(text.data(), text.size(), form.data(), form.size())) {
                                rowids.push_back(row.column_int(0));
                                many = rowids.size() > k_most_candidates;
                                return !many;
                            }
                        }
                    }
                    return true;
                }));
        if (many) {
            return std::nullopt;
        }
        return Candidates{std::string("SELECT value FROM json_each(?)") + k_village_candidates_sql,
                          {rowids.dump(), villages.dump()}};
    }
    Candidates found{std::string("SELECT rowid FROM consultation_text WHERE consultation_text"
                                 " MATCH ?") +
                         k_village_candidates_sql,
                     {phrase, villages.dump()}};
    auto count =
        db.query("SELECT count(*) FROM (SELECT 1 FROM (" + found.sql + ") LIMIT ?)",
                 found.params[0], found.params[1], static_cast<std::int64_t>(k_most_candidates + 1))
            .one<std::int64_t>();
    if (!count) {
        // A database without the index (restored from an older backup under a running app)
        // is searched by reading its rows; a busy one says so.
        if (count.error().code == ErrorCode::busy) {
            return tl::unexpected(count.error());
        }
        return std::nullopt;
    }
    if (static_cast<std::size_t>(count->value_or(0)) > k_most_candidates) {
        return std::nullopt;
    }
    return found;
}

} // namespace caravan::client::search_index
