#include "registry_rules.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/text.hpp"
#include "caravan/sync/server/credentials.hpp"

namespace caravan::sync::server::rules {

using nlohmann::json;

namespace {

constexpr std::string_view k_invalid_code =
    "the enrollment code is unknown, already used or expired";
constexpr std::string_view k_revoked =
    "this device was revoked; ask the coordinator for a new enrollment code";

} // namespace

Result<NewCode> new_code(const CodeRequest& request, std::int64_t now_ms) {
    auto lawyer = client::validate_text("lawyer", request.lawyer, client::k_max_name_chars);
    if (!lawyer) {
        return tl::unexpected(lawyer.error());
    }
    std::vector<std::string> regions;
    for (const std::string& r : request.regions) {
        auto region = client::validate_text("region", r, client::k_max_name_chars);
        if (!region) {
            return tl::unexpected(region.error());
        }
        bool seen = std::any_of(regions.begin(), regions.end(), [&](const std::string& x) {
            return region_key(x) == region_key(*region);
        });
        if (!seen) {
            regions.push_back(*region);
        }
    }
    if (request.role == Role::lawyer && regions.empty()) {
        return fail(ErrorCode::invalid_input, "a lawyer's code needs at least one --region");
    }
    if (request.ttl_hours < 1 || request.ttl_hours > 24 * 365) {
        return fail(ErrorCode::invalid_input, "--ttl must be between 1 and 8760 hours");
    }
    NewCode made;
    made.code = new_enrollment_code();
    made.code_hash = hash_secret(normalize_code(made.code).value_or(made.code));
    made.lawyer = *lawyer;
    made.role = std::string(to_string(request.role));
    made.regions_json = regions_json(regions);
    made.created_at = now_ms;
    made.expires_at = now_ms + request.ttl_hours * 3600 * 1000;
    return made;
}

std::vector<std::string> parse_regions(const std::string& text) {
    std::vector<std::string> regions;
    json j = json::parse(text, nullptr, false);
    if (j.is_array()) {
        for (const json& r : j) {
            if (r.is_string()) {
                regions.push_back(r.get<std::string>());
            }
        }
    }
    return regions;
}

std::string regions_json(const std::vector<std::string>& regions) {
    return json(regions).dump();
}

Result<std::string> revoke_ref(std::string_view ref_in) {
    std::string ref = client::fold_case(client::normalize_space(ref_in));
    if (ref.size() < 4) {
        return fail(ErrorCode::invalid_input,
                    "give the device id or at least its last 4 characters");
    }
    return ref;
}

Result<std::string> pick_device(const std::vector<std::string>& ids, const std::string& ref) {
    if (ids.empty()) {
        return fail(ErrorCode::not_found, "no enrolled device matches " + ref);
    }
    if (ids.size() > 1 && std::find(ids.begin(), ids.end(), ref) == ids.end()) {
        return fail(ErrorCode::ambiguous,
                    "several devices match " + ref + "; give more of the device id");
    }
    return ids.size() == 1 ? ids.front() : ref;
}

ApiResult<std::string> enrollment_code_hash(std::string_view code_in, std::string_view device_id) {
    if (!client::is_uuid(device_id)) {
        return refuse(codes::malformed, "\"device_id\" must be a lowercase UUID");
    }
    auto code = normalize_code(code_in);
    if (!code) {
        return refuse(codes::invalid_code, std::string(k_invalid_code));
    }
    return hash_secret(*code);
}

ApiResult<DeviceRecord> enrolled_device(const std::optional<CodeRow>& code,
                                        std::string_view code_hash, std::string_view device_id,
                                        std::int64_t now_ms) {
    if (!code || !same_hash(code->code_hash, std::string(code_hash)) ||
        code->expires_at <= now_ms) {
        return refuse(codes::invalid_code, std::string(k_invalid_code));
    }
    DeviceRecord device;
    device.device_id = std::string(device_id);
    device.lawyer = code->lawyer;
    device.role = parse_role(code->role).value_or(Role::lawyer);
    device.regions = parse_regions(code->regions_json);
    device.enrolled_at_ms = now_ms;
    return device;
}

ApiResult<Write> judge_enrollment(const CodeRow& code, std::string_view device_id,
                                  const std::optional<DeviceRecord>& known, std::int64_t held_seq) {
    // An id is enrolled once: whatever the server knows of it (a device record, enrolled,
    // revoked, rotated, a predecessor or successor; or events) closes it to new enrollments.
    // Every device learns every device id as reference data, so an open id would let any code
    // holder take over another device's identity, region and acknowledged sequence.
    const std::string_view taken =
        "this device id is already known to the server and cannot be enrolled again;"
        " a device that needs a new enrollment needs a new device id";
    if (code.used_at) {
        // The code was used. The only answer is to a repeat of that very enrollment whose
        // answer was lost: same id, the record it created untouched since, and no request made
        // with its token yet (so the token being replaced was never received).
        if (code.used_by != std::string(device_id)) {
            return refuse(codes::invalid_code, std::string(k_invalid_code));
        }
        const bool repeat = known && known->enrolled_at_ms == *code.used_at && !known->spoken() &&
                            !known->revoked() && !known->rotated();
        if (!repeat) {
            return refuse(codes::device_id_taken, std::string(taken));
        }
        return Write::reissue;
    }
    if (known || held_seq > 0) {
        return refuse(codes::device_id_taken, std::string(taken));
    }
    return Write::insert;
}

ApiResult<void> usable(const DeviceRecord& device, bool allow_rotated) {
    if (device.revoked()) {
        return refuse(codes::device_revoked, std::string(k_revoked));
    }
    if (device.rotated() && !allow_rotated) {
        return refuse(codes::device_rotated,
                      "this device id was replaced by " + client::short_id(*device.successor) +
                          "; its events stay on the server",
                      {{"successor", *device.successor}});
    }
    return {};
}

ApiResult<DeviceRecord> current(std::optional<DeviceRecord> fresh) {
    if (!fresh) {
        return refuse(codes::unauthenticated, "unknown device");
    }
    if (fresh->revoked()) {
        return refuse(codes::device_revoked, std::string(k_revoked));
    }
    return std::move(*fresh);
}

ApiResult<void> may_push(const DeviceRecord& device) {
    if (device.rotated()) {
        return refuse(codes::device_rotated,
                      "this device id was replaced by " + client::short_id(*device.successor) +
                          "; it can push no more",
                      {{"successor", *device.successor}});
    }
    return {};
}

ApiResult<void> check_new_id(const DeviceRecord& device, std::string_view new_device_id) {
    if (!client::is_uuid(new_device_id) || new_device_id == device.device_id) {
        return refuse(codes::malformed,
                      "\"new_device_id\" must be a lowercase UUID other than the device's own");
    }
    return {};
}

ApiResult<Write> judge_rotation(const DeviceRecord& old, std::string_view new_device_id,
                                const std::optional<DeviceRecord>& known, std::int64_t held_seq) {
    const bool repeat = old.successor == std::string(new_device_id);
    if (old.rotated() && !repeat) {
        return refuse(codes::device_rotated,
                      "this device id was already replaced by " + client::short_id(*old.successor),
                      {{"successor", *old.successor}});
    }
    if (repeat) {
        // The first answer was lost: the same successor gets a fresh token (the first one was
        // never stored by the device). Nothing else changes. Only while the successor has not
        // spoken: after that the old token (in any old copy of the database) could otherwise
        // re-claim the successor and cut off the device that legitimately holds it.
        if (!known || known->spoken() || known->revoked() || known->rotated()) {
            return refuse(codes::device_id_taken,
                          "the new device id has been in use with its own token since; it"
                          " cannot be claimed again",
                          {{"successor", *old.successor}});
        }
        return Write::reissue;
    }
    if (known || held_seq > 0) {
        return refuse(codes::device_id_taken,
                      "\"new_device_id\" is already known to the server; an id is enrolled once");
    }
    return Write::insert;
}

} // namespace caravan::sync::server::rules
