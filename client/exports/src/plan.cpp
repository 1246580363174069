#include "caravan/client/export/plan.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/text.hpp"

namespace caravan::client::exports {

namespace {

using nlohmann::json;

constexpr std::string_view k_required[] = {
    "villages",  "participants",         "journals",        "lawyers",
    "protected", "satisfaction_percent", "photos_per_visit"};
constexpr std::string_view k_optional[] = {"visits", "consultations"};
constexpr std::string_view k_top[] = {"format", "version", "name", "period", "targets"};

// A key as it may appear in a message: keys are not personal data, but keep the line short
// and printable.
std::string shown(std::string_view key) {
    std::string out;
    for (char c : key.substr(0, 40)) {
        out.push_back(static_cast<unsigned char>(c) < 0x20 ? '?' : c);
    }
    return key.size() > 40 ? out + "…" : out;
}

template <size_t N> bool one_of(std::string_view key, const std::string_view (&set)[N]) {
    for (std::string_view k : set) {
        if (k == key) {
            return true;
        }
    }
    return false;
}

template <size_t N> std::string list(const std::string_view (&set)[N]) {
    std::string out;
    for (std::string_view k : set) {
        out += (out.empty() ? "" : ", ") + std::string(k);
    }
    return out;
}

// 1-based line and column (in characters) of byte offset `byte` (1-based, as nlohmann counts).
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t byte) {
    std::size_t end = std::min(byte == 0 ? 0 : byte - 1, text.size());
    std::size_t line = 1, line_start = 0;
    for (std::size_t i = 0; i < end; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    std::size_t column = utf8_length(text.substr(line_start, end - line_start)) + 1;
    return {line, column};
}

class PlanParser {
  public:
    explicit PlanParser(std::string_view source) : m_source(source) {}

    template <class... Args>
    Error error(std::string_view key, const Message& what, Args&&... args) const {
        // i18n-forwards: `what` is one of msg::plan_*
        Error detail = make_error(ErrorCode::invalid_input, what, std::forward<Args>(args)...);
        return key.empty()
                   ? make_error(ErrorCode::invalid_input, msg::plan_problem, m_source, detail)
                   : make_error(ErrorCode::invalid_input, msg::plan_key_problem, m_source, key,
                                detail);
    }

    Result<std::int64_t> count(const json& targets, std::string_view key) const {
        std::string path = "targets." + std::string(key);
        const json& v = targets.at(std::string(key));
        if (!v.is_number_integer() &&
            !(v.is_number_float() && std::floor(v.get<double>()) == v.get<double>())) {
            return tl::unexpected(error(path, msg::plan_not_whole));
        }
        double d = v.get<double>();
        if (d < 0 || d > 1e9) {
            return tl::unexpected(error(path, msg::plan_between, "1000000000"));
        }
        return static_cast<std::int64_t>(d);
    }

    Result<double> number(const json& targets, std::string_view key, double max) const {
        std::string path = "targets." + std::string(key);
        const json& v = targets.at(std::string(key));
        if (!v.is_number()) {
            return tl::unexpected(error(path, msg::plan_not_number));
        }
        double d = v.get<double>();
        if (!(d >= 0 && d <= max)) {
            char buffer[64];
            std::snprintf(buffer, sizeof buffer, "%g", max);
            return tl::unexpected(error(path, msg::plan_between, buffer));
        }
        return d;
    }

    Result<Plan> parse(std::string_view text) const {
        json doc;
        try {
            doc = json::parse(text);
        } catch (const json::parse_error& e) {
            // nlohmann reports through exceptions only; mapped here, at the boundary.
            auto [line, column] = line_column(text, e.byte);
            std::string what = e.what();
            if (auto colon = what.find(": "); colon != std::string::npos) {
                what = what.substr(colon + 2); // drop "[json.exception.parse_error.101] ... :"
            }
            return tl::unexpected(error("", msg::plan_bad_json, line, column, e.byte, what));
        } catch (const json::exception&) {
            // out_of_range 406: a number beyond a double ("1e999"), found by fuzzing the codec.
            return tl::unexpected(error("", msg::plan_json_range));
        }
        if (!doc.is_object()) {
            return tl::unexpected(error("", msg::plan_not_json_object));
        }
        for (auto it = doc.begin(); it != doc.end(); ++it) {
            if (!one_of(it.key(), k_top)) {
                return tl::unexpected(error(shown(it.key()), msg::plan_unknown_key, list(k_top)));
            }
        }
        Plan plan;
        if (doc.contains("format") &&
            (!doc["format"].is_string() || doc["format"].get<std::string>() != "caravan-plan")) {
            return tl::unexpected(error("format", msg::plan_format));
        }
        if (doc.contains("version") &&
            (!doc["version"].is_number_integer() || doc["version"].get<std::int64_t>() != 1)) {
            return tl::unexpected(error("version", msg::plan_version));
        }
        if (doc.contains("name")) {
            if (!doc["name"].is_string()) {
                return tl::unexpected(error("name", msg::plan_not_string));
            }
            auto name =
                validate_text("name", doc["name"].get<std::string>(), k_max_name_chars, false);
            if (!name) {
                return tl::unexpected(error("name", msg::plan_bad_name));
            }
            plan.name = *name;
        }
        if (doc.contains("period")) {
            const json& period = doc["period"];
            if (!period.is_object()) {
                return tl::unexpected(error("period", msg::plan_period_object));
            }
            for (auto it = period.begin(); it != period.end(); ++it) {
                if (it.key() != "from" && it.key() != "to") {
                    return tl::unexpected(error("period." + shown(it.key()), msg::plan_period_key));
                }
                std::string path = "period." + it.key();
                if (!it->is_string()) {
                    return tl::unexpected(error(path, msg::plan_date_string));
                }
                auto date = validate_date(path, it->get<std::string>());
                if (!date) {
                    return tl::unexpected(error(path, msg::plan_date));
                }
                (it.key() == "from" ? plan.from : plan.to) = *date;
            }
            if (plan.from && plan.to && *plan.from > *plan.to) {
                return tl::unexpected(error("period", msg::plan_period_reversed));
            }
        }
        if (!doc.contains("targets")) {
            return tl::unexpected(error("targets", msg::plan_targets_missing, list(k_required)));
        }
        const json& targets = doc["targets"];
        if (!targets.is_object()) {
            return tl::unexpected(error("targets", msg::plan_not_object));
        }
        for (auto it = targets.begin(); it != targets.end(); ++it) {
            if (!one_of(it.key(), k_required) && !one_of(it.key(), k_optional)) {
                return tl::unexpected(error("targets." + shown(it.key()), msg::plan_unknown_target,
                                            list(k_required) + ", " + list(k_optional)));
            }
        }
        // Checked in the documented order, so the first problem named is the first key.
        PlanTargets& t = plan.targets;
        std::int64_t* counts[] = {&t.villages, &t.participants, &t.journals, &t.lawyers,
                                  &t.protected_people};
        for (size_t k = 0; k < std::size(k_required); ++k) {
            std::string_view key = k_required[k];
            if (!targets.contains(std::string(key))) {
                return tl::unexpected(error("targets." + std::string(key), msg::plan_missing));
            }
            if (k < std::size(counts)) {
                auto value = count(targets, key);
                if (!value) {
                    return tl::unexpected(value.error());
                }
                *counts[k] = *value;
            } else {
                bool satisfaction = key == "satisfaction_percent";
                auto value = number(targets, key, satisfaction ? 100 : 10000);
                if (!value) {
                    return tl::unexpected(value.error());
                }
                (satisfaction ? t.satisfaction_percent : t.photos_per_visit) = *value;
            }
        }
        for (auto [key, target] :
             {std::pair{std::string_view("visits"), &t.visits},
              std::pair{std::string_view("consultations"), &t.consultations}}) {
            if (targets.contains(std::string(key))) {
                auto value = count(targets, key);
                if (!value) {
                    return tl::unexpected(value.error());
                }
                *target = *value;
            }
        }
        return plan;
    }

  private:
    std::string m_source;
};

} // namespace

Result<Plan> parse_plan(std::string_view text, std::string_view source) {
    return PlanParser(source).parse(text);
}

Result<Plan> load_plan(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        int err = errno;
        return fail(err == ENOENT ? ErrorCode::not_found : ErrorCode::io, msg::plan_unreadable,
                    file.string(), std::strerror(err));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        return fail(ErrorCode::io, msg::plan_read_failed, file.string());
    }
    return parse_plan(text.str(), file.string());
}

} // namespace caravan::client::exports
