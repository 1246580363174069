#pragma once
// Renaming the `base` versions of an event's payload (private to client/engine): when the
// engine stamps its own events again (clock repair, device rotation), an edit that named the
// version of an event stamped again must name its new version, or it would look like a
// conflict with itself.
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace caravan::client {

// Replaces each version in `payload`'s "base" object found in `renamed` (old → new). True when
// the payload has a "base" object (the caller then writes the payload again).
inline bool rename_base_versions(nlohmann::json& payload,
                                 const std::map<std::string, std::string>& renamed) {
    auto base = payload.find("base");
    if (base == payload.end() || !base->is_object()) {
        return false;
    }
    for (auto& [field, version] : base->items()) {
        if (version.is_string()) {
            if (auto it = renamed.find(version.get<std::string>()); it != renamed.end()) {
                version = it->second;
            }
        }
    }
    return true;
}

} // namespace caravan::client
