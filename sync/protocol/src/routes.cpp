#include "caravan/sync/protocol/routes.hpp"

#include <cctype>

namespace caravan::sync {

namespace {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

std::string url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int hi = hex_digit(text[i + 1]);
            int lo = hex_digit(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
    return out;
}

// A count parameter: absent is nullopt; present, it must be a non-negative integer.
Result<std::optional<std::int64_t>> count_param(const QueryParams& params, const char* name) {
    auto it = params.find(name);
    if (it == params.end()) {
        return std::optional<std::int64_t>();
    }
    auto value = parse_count(it->second);
    if (!value) {
        return fail(ErrorCode::invalid_input,
                    "\"" + std::string(name) + "\" must be a non-negative integer");
    }
    return value;
}

} // namespace

std::optional<std::int64_t> parse_count(std::string_view text) {
    if (text.empty() || text.size() > 18) {
        return std::nullopt;
    }
    std::int64_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        value = value * 10 + (c - '0');
    }
    return value;
}

std::string url_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

Target split_target(std::string_view target) {
    Target t;
    auto mark = target.find('?');
    t.path = std::string(target.substr(0, mark));
    if (mark == std::string_view::npos) {
        return t;
    }
    std::string_view rest = target.substr(mark + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view item = rest.substr(0, amp);
        auto eq = item.find('=');
        if (!item.empty()) {
            t.params.emplace(url_decode(item.substr(0, eq)), eq == std::string_view::npos
                                                                 ? std::string()
                                                                 : url_decode(item.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(amp + 1);
    }
    return t;
}

std::string target(const PullQuery& q) {
    std::string out = std::string(routes::pull) + "?after=" + std::to_string(q.after);
    if (q.limit > 0) {
        out += "&limit=" + std::to_string(q.limit);
    }
    out += "&epoch=" + url_encode(q.epoch) + "&own_upto=" + std::to_string(q.own_upto);
    return out;
}

Result<PullQuery> pull_query_from(const QueryParams& params) {
    auto after = count_param(params, "after");
    auto limit = count_param(params, "limit");
    auto own_upto = count_param(params, "own_upto");
    if (!after || !limit || !own_upto) {
        return tl::unexpected(!after ? after.error() : !limit ? limit.error() : own_upto.error());
    }
    if (*limit && **limit == 0) {
        return fail(ErrorCode::invalid_input, "\"limit\" must be at least 1");
    }
    PullQuery q;
    q.after = after->value_or(0);
    q.limit = limit->value_or(0);
    if (auto epoch = params.find("epoch"); epoch != params.end()) {
        q.epoch = epoch->second;
    }
    q.own_upto = own_upto->value_or(0);
    return q;
}

std::string target(const VerifyQuery& q) {
    std::string out(routes::verify);
    if (q.upto) {
        out += "?upto=" + std::to_string(*q.upto);
    }
    return out;
}

Result<VerifyQuery> verify_query_from(const QueryParams& params) {
    auto upto = count_param(params, "upto");
    if (!upto) {
        return tl::unexpected(upto.error());
    }
    return VerifyQuery{*upto};
}

} // namespace caravan::sync
