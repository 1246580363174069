#include "caravan/sync/protocol/verify.hpp"

#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

json to_json(const VerifyResponse& r) {
    return {{"upto", r.upto}, {"count", r.count}, {"digest", r.digest}};
}

Result<VerifyResponse> verify_response_from_json(const json& j) {
    if (!j.is_object()) {
        return fields::malformed("the body must be a JSON object");
    }
    auto upto = fields::integer(j, "upto");
    auto count = fields::integer(j, "count");
    auto digest = fields::string(j, "digest");
    if (!upto || !count || !digest) {
        return tl::unexpected(!upto ? upto.error() : !count ? count.error() : digest.error());
    }
    return VerifyResponse{*upto, *count, std::move(*digest)};
}

} // namespace caravan::sync
