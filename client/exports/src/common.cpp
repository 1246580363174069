#include "caravan/client/export/common.hpp"

#include <set>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/export/snapshot.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client::exports {

namespace {

constexpr std::pair<std::string_view, Format> k_formats[] = {
    {"text", Format::text},
    {"csv", Format::csv},
    {"json", Format::json},
    {"xlsx", Format::xlsx},
};

} // namespace

Result<Format> parse_format(std::string_view text) {
    std::string folded = fold_case(normalize_space(text));
    for (auto [name, format] : k_formats) {
        if (folded == name) {
            return format;
        }
    }
    return fail(ErrorCode::invalid_input, msg::format_unknown);
}

std::string_view to_string(Format format) {
    for (auto [name, f] : k_formats) {
        if (f == format) {
            return name;
        }
    }
    return "text";
}

std::string_view media_type(Format format) {
    switch (format) {
    case Format::csv:
        return "text/csv; charset=utf-8";
    case Format::json:
        return "application/json";
    case Format::xlsx:
        return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    case Format::text:
        break;
    }
    return "text/plain; charset=utf-8";
}

std::optional<Format> format_for_path(const std::filesystem::path& path) {
    std::string ext = fold_case(path.extension().string());
    if (ext == ".csv") {
        return Format::csv;
    }
    if (ext == ".json") {
        return Format::json;
    }
    if (ext == ".xlsx") {
        return Format::xlsx;
    }
    if (ext == ".txt") {
        return Format::text;
    }
    return std::nullopt;
}

Result<Format> choose_format(const std::optional<std::string>& requested,
                             const std::optional<std::filesystem::path>& output, Format fallback) {
    Format format = fallback;
    if (requested) {
        auto parsed = parse_format(*requested);
        if (!parsed) {
            return tl::unexpected(parsed.error());
        }
        format = *parsed;
    } else if (output) {
        auto implied = format_for_path(*output);
        if (!implied) {
            return fail(ErrorCode::invalid_input, msg::format_from_name);
        }
        format = *implied;
    }
    if (format == Format::xlsx && !output) {
        return fail(ErrorCode::invalid_input, msg::format_xlsx_needs_file);
    }
    return format;
}

Result<std::string> resolve_region(storage::Database& db, std::string_view ref) {
    auto region = validate_text("region", ref, k_max_name_chars);
    if (!region) {
        return tl::unexpected(region.error());
    }
    CARAVAN_TRY(stmt, db.prepare("SELECT region FROM villages WHERE region IS NOT NULL UNION "
                                 "SELECT region FROM devices WHERE region IS NOT NULL ORDER BY 1"));
    const std::string folded = fold_case(*region);
    std::optional<std::string> found;
    std::string known;
    CARAVAN_TRY_VOID(stmt.each([&](const storage::Statement& row) {
        std::string name = row.column_text(0);
        if (fold_case(name) == folded) {
            found = std::move(name);
            return false;
        }
        known += (known.empty() ? "" : "; ") + name;
        return true;
    }));
    if (found) {
        return *found;
    }
    // Region names are reference data, not personal data: listing them helps fix a typo.
    return fail(ErrorCode::not_found, msg::region_unknown,
                known.empty() ? MessageArg(msg::word_none) : MessageArg(known));
}

Result<std::optional<std::string>> region_spellings(storage::Database& db,
                                                    const std::optional<std::string>& region) {
    if (!region) {
        return std::optional<std::string>();
    }
    CARAVAN_TRY(stmt, db.prepare("SELECT DISTINCT region FROM villages WHERE region IS NOT NULL"));
    const std::string wanted = fold_case(normalize_space(*region));
    nlohmann::json spellings = nlohmann::json::array({*region});
    CARAVAN_TRY_VOID(stmt.each([&](const storage::Statement& row) {
        std::string name = row.column_text(0);
        if (name != *region && fold_case(normalize_space(name)) == wanted) {
            spellings.push_back(std::move(name));
        }
    }));
    return std::optional<std::string>(spellings.dump());
}

Result<Scope> resolve_scope(storage::Database& db, const Scope& scope) {
    Scope out = scope;
    if (scope.region) {
        auto region = resolve_region(db, *scope.region);
        if (!region) {
            return tl::unexpected(region.error());
        }
        out.region = *region;
    }
    for (auto [bound, name] : {std::pair{&out.from, "from"}, std::pair{&out.to, "to"}}) {
        if (*bound) {
            auto date = validate_date(name, **bound);
            if (!date) {
                return tl::unexpected(date.error());
            }
            **bound = *date;
        }
    }
    if (out.from && out.to && *out.from > *out.to) {
        return fail(ErrorCode::invalid_input, msg::dates_reversed_values, *out.from, *out.to);
    }
    return out;
}

Result<ReadSnapshot> ReadSnapshot::begin(storage::Database& db) {
    if (db.in_transaction()) {
        return ReadSnapshot(nullptr);
    }
    if (auto ok = db.exec("BEGIN DEFERRED"); !ok) {
        return tl::unexpected(ok.error());
    }
    return ReadSnapshot(&db);
}

ReadSnapshot::~ReadSnapshot() {
    if (m_db && m_db->in_transaction()) {
        (void)m_db->exec("ROLLBACK");
    }
}

} // namespace caravan::client::exports
