#include "caravan/storage/result.hpp"

namespace caravan {

std::string_view to_string(ErrorCode code) noexcept {
    switch (code) {
    case ErrorCode::invalid_input: return "invalid_input";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::ambiguous: return "ambiguous";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::not_initialized: return "not_initialized";
    case ErrorCode::busy: return "busy";
    case ErrorCode::corrupt: return "corrupt";
    case ErrorCode::storage_full: return "storage_full";
    case ErrorCode::io: return "io";
    case ErrorCode::offline: return "offline";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::auth: return "auth";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::server: return "server";
    case ErrorCode::protocol: return "protocol";
    case ErrorCode::upgrade_required: return "upgrade_required";
    case ErrorCode::internal: return "internal";
    }
    return "internal";
}

} // namespace caravan

namespace caravan {

namespace {

std::string render_arg(const MessageArg& arg, Language lang) {
    if (arg.word) {
        return std::string(arg.word->text(lang));
    }
    if (arg.cause) {
        return localize(*arg.cause, lang);
    }
    return arg.text;
}

} // namespace

std::string render(std::string_view templ, const std::vector<MessageArg>& args, Language lang) {
    std::string out;
    out.reserve(templ.size() + 32);
    std::size_t i = 0;
    while (i < templ.size()) {
        if (templ[i] == '{') {
            std::size_t close = templ.find('}', i + 1);
            std::size_t index = 0;
            bool digits = close != std::string_view::npos && close > i + 1 && close - i <= 4;
            for (std::size_t k = i + 1; digits && k < close; ++k) {
                digits = templ[k] >= '0' && templ[k] <= '9';
                index = index * 10 + static_cast<std::size_t>(templ[k] - '0');
            }
            if (digits && index < args.size()) {
                out += render_arg(args[index], lang);
                i = close + 1;
                continue;
            }
        }
        out += templ[i++];
    }
    return out;
}

std::string localize(const Error& error, Language lang) {
    if (!error.text) {
        return error.message;
    }
    return render(error.text->text(lang), error.args, lang);
}

Error make_error(ErrorCode code, const Message& message, std::vector<MessageArg> args) {
    Error e{code, render(message.en, args, Language::en), &message, std::move(args)};
    return e;
}

} // namespace caravan
