// Photos of the current visit: several files chosen at once; the browser hands over bytes, the
// engine records each one's hash, EXIF time and GPS and keeps its own copy named by the hash
// (Engine::add_photos, as `caravan photo add`); the page shows a thumbnail of each and flags the
// ones recorded before.
#include <cstdio>
#include <fstream>
#include <set>

#include "app.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/ui/messages.hpp"

namespace caravan::ui {
namespace {

namespace fs = std::filesystem;

// A file name from a browser, reduced to a safe last path component.
std::string safe_name(const std::string& name) {
    std::string base = fs::path(name).filename().string();
    for (char& c : base) {
        if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
            c = '_';
        }
    }
    return base.empty() || base == "." || base == ".." ? std::string("photo") : base.substr(0, 200);
}

Answer photos_page(const Page& page, const std::string& notice, const std::string& error,
                   mstch::array results) {
    mstch::map ctx{{"notice", notice},
                   {"error", error},
                   {"need_visit", need_visit_notice(page)},
                   {"hint", tr(page, msg::photos_hint)},
                   {"files_label", tr(page, msg::photos_files)},
                   {"caption_label", tr(page, msg::photos_caption)},
                   {"consent_label", tr(page, msg::photos_consent)},
                   {"save", tr(page, msg::photos_save)},
                   {"any_results", !results.empty()},
                   {"results", results}};
    Answer answer = render_page(page, "photos", tr(page, msg::photos_title), std::move(ctx));
    if (!error.empty()) {
        answer.status = 400;
    }
    return answer;
}

Answer get_photos(const Page& page) {
    return photos_page(page, {}, {}, {});
}

Answer post_photos(const Page& page) {
    std::vector<const Form::Upload*> files;
    for (const auto& u : page.form.uploads) {
        if (u.field == "files" && !u.content.empty()) {
            files.push_back(&u);
        }
    }
    if (files.empty()) {
        return photos_page(page, {}, tr(page, msg::photos_none_chosen), {});
    }
    // The bytes go to a private folder beside the database under their own names (the record
    // keeps the file name), the engine records them and keeps its copies, then they go.
    const fs::path incoming = page.engine.path().parent_path() / ".caravan-ui-incoming" / random_token().substr(0, 16);
    std::error_code ec;
    fs::create_directories(incoming, ec);
    fs::permissions(incoming.parent_path(), fs::perms::owner_all, fs::perm_options::replace, ec);
    client::PhotoInput input;
    input.caption = page.form.get("caption");
    input.consent = page.form.has("consent");
    std::set<std::string> names;
    for (const auto* u : files) {
        std::string name = safe_name(u->filename);
        while (!names.insert(name).second) {
            name = "_" + name;
        }
        const fs::path path = incoming / name;
        // A short write (a full disk) must not become a photo with the wrong hash.
        std::ofstream out(path, std::ios::binary);
        out.write(u->content.data(), static_cast<std::streamsize>(u->content.size()));
        out.close();
        if (!out) {
            fs::remove_all(incoming, ec);
            return photos_page(page, {}, tr(page, msg::photos_write_failed), {});
        }
        input.files.push_back(path);
    }
    std::vector<client::PhotoAdded> added;
    auto done = page.engine.with([&](client::Engine& engine) -> Result<void> {
        CARAVAN_TRY(result, engine.add_photos(input));
        added = std::move(result);
        return {};
    });
    fs::remove_all(incoming, ec);
    if (!done) {
        return photos_page(page, {}, error_text(page, done.error()), {});
    }
    mstch::array results;
    std::int64_t again = 0;
    for (const auto& a : added) {
        again += a.duplicate ? 1 : 0;
        mstch::map row{{"sha", a.photo.sha256},
                       {"short", a.photo.sha256.substr(0, 12)},
                       {"name", a.photo.file_name.value_or("")},
                       {"duplicate", a.duplicate ? tr(page, msg::photo_duplicate) : std::string{}},
                       {"taken", a.photo.taken_at ? tr(page, msg::photo_taken, {a.photo.taken_at->substr(0, 16)})
                                                  : std::string{}}};
        if (a.photo.lat && a.photo.lon) {
            char lat[32], lon[32];
            std::snprintf(lat, sizeof lat, "%.5f", *a.photo.lat);
            std::snprintf(lon, sizeof lon, "%.5f", *a.photo.lon);
            row.emplace("gps", tr(page, msg::photo_gps, {std::string(lat), std::string(lon)}));
        }
        results.push_back(row);
    }
    return photos_page(page,
                       tr(page, msg::photos_saved, {static_cast<std::int64_t>(added.size()), again}),
                       {}, results);
}

// A photo's thumbnail: the one its camera put in the EXIF, else the image itself (the page
// shows it small). Only this device's own copies, by hash.
Answer get_thumbnail(const Page& page) {
    std::optional<fs::path> copy;
    (void)page.engine.with([&](client::Engine& engine) -> Result<void> {
        copy = engine.photo_copy(page.form.get("sha"));
        return {};
    });
    Answer answer;
    if (!copy) {
        answer.status = 404;
        answer.content_type = "text/plain; charset=utf-8";
        return answer;
    }
    if (auto thumb = client::Engine::photo_thumbnail(*copy)) {
        answer.body = std::move(*thumb);
        answer.content_type = "image/jpeg";
        return answer;
    }
    const std::string ext = copy->extension().string();
    answer.content_type = ext == ".png" ? "image/png" : ext == ".jpg" || ext == ".jpeg" ? "image/jpeg" : "";
    if (answer.content_type.empty()) {
        answer.status = 404;
        answer.content_type = "text/plain; charset=utf-8";
        return answer;
    }
    std::ifstream in(*copy, std::ios::binary);
    answer.body.assign(std::istreambuf_iterator<char>(in), {});
    return answer;
}

} // namespace

void add_photo_routes(Routes& routes) {
    routes.get.emplace("/photos", get_photos);
    routes.post.emplace("/photos", post_photos);
    routes.get.emplace("/photo/thumb", get_thumbnail);
}

} // namespace caravan::ui
