#include "caravan/sync/protocol/error_body.hpp"

#include "caravan/sync/protocol.hpp"
#include "json_fields.hpp"

namespace caravan::sync {

using nlohmann::json;

json to_json(const ErrorBody& e) {
    json j = error_body(e.code, e.message);
    if (e.acked_seq) {
        j["acked_seq"] = *e.acked_seq;
    }
    if (e.seq) {
        j["seq"] = *e.seq;
    }
    if (e.epoch) {
        j["epoch"] = *e.epoch;
    }
    if (e.successor) {
        j["successor"] = *e.successor;
    }
    if (e.retry_after) {
        j["retry_after"] = *e.retry_after;
    }
    if (e.protocol) {
        j["protocol"] = *e.protocol;
    }
    return j;
}

Result<ErrorBody> error_body_from_json(const json& j) {
    if (!j.is_object()) {
        return fields::malformed("the body must be a JSON object");
    }
    auto error = j.find("error");
    if (error == j.end() || !error->is_object()) {
        return fields::malformed("\"error\" must be an object");
    }
    auto code = fields::string(*error, "code");
    if (!code) {
        return tl::unexpected(code.error());
    }
    ErrorBody e;
    e.code = std::move(*code);
    e.message = fields::optional_string(*error, "message").value_or("");
    e.acked_seq = fields::optional_integer(j, "acked_seq");
    e.seq = fields::optional_integer(j, "seq");
    e.epoch = fields::optional_string(j, "epoch");
    e.successor = fields::optional_string(j, "successor");
    if (auto ra = j.find("retry_after"); ra != j.end() && ra->is_number()) {
        e.retry_after = ra->get<std::int64_t>();
    }
    if (auto p = fields::optional_integer(j, "protocol")) {
        e.protocol = static_cast<int>(*p);
    }
    return e;
}

} // namespace caravan::sync
