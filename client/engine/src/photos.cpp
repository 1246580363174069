// Photo metadata: content hash, size, EXIF time and GPS. The image itself stays on disk.

#include <libexif/exif-data.h>
#include <sodium.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "caravan/client/domain.hpp"
#include "caravan/client/engine.hpp"
#include "caravan/client/ids.hpp"
#include "caravan/client/iso_time.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/client/new_record.hpp"
#include "caravan/client/projection.hpp"

namespace caravan::client {

using nlohmann::json;

namespace {

struct ExifDeleter {
    void operator()(ExifData* d) const noexcept { exif_data_unref(d); }
};

struct FileFacts {
    std::string sha256;
    std::int64_t size = 0;
    std::optional<std::string> taken_at;
    std::optional<double> lat, lon;
};

std::optional<std::string> exif_text(ExifData* data, ExifIfd ifd, ExifTag tag) {
    ExifEntry* entry = exif_content_get_entry(data->ifd[ifd], tag);
    if (!entry) {
        return std::nullopt;
    }
    char buf[256] = {};
    exif_entry_get_value(entry, buf, sizeof buf - 1);
    std::string s(buf);
    return s.empty() ? std::nullopt : std::optional(s);
}

// "2024:05:14 10:31:02" -> "2024-05-14T10:31:02" (EXIF time has no zone: local time of the camera)
std::optional<std::string> exif_time(const std::string& s) {
    int y, mo, d, h, mi, se;
    if (std::sscanf(s.c_str(), "%d:%d:%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6 || y < 1990 ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
        return std::nullopt;
    }
    CivilTime time;
    time.year = y;
    time.month = mo;
    time.day = d;
    time.hour = h;
    time.minute = mi;
    time.second = se;
    return iso_8601(time);
}

std::optional<double> exif_coordinate(ExifData* data, ExifTag value_tag, ExifTag ref_tag) {
    ExifEntry* entry = exif_content_get_entry(data->ifd[EXIF_IFD_GPS], value_tag);
    if (!entry || entry->format != EXIF_FORMAT_RATIONAL || entry->components != 3) {
        return std::nullopt;
    }
    ExifByteOrder order = exif_data_get_byte_order(data);
    double parts[3];
    for (unsigned i = 0; i < 3; ++i) {
        ExifRational r = exif_get_rational(entry->data + 8 * i, order);
        if (r.denominator == 0) {
            return std::nullopt;
        }
        parts[i] = static_cast<double>(r.numerator) / r.denominator;
    }
    double value = parts[0] + parts[1] / 60 + parts[2] / 3600;
    auto ref = exif_text(data, EXIF_IFD_GPS, ref_tag);
    if (ref && (ref->front() == 'S' || ref->front() == 'W')) {
        value = -value;
    }
    return std::isfinite(value) ? std::optional(value) : std::nullopt;
}

std::string mtime_iso(const struct stat& st) {
    return iso_8601(local_time(st.st_mtime));
}

Result<FileFacts> read_file_facts(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return fail(ErrorCode::invalid_input, msg::photo_not_readable, path.filename().string());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return fail(ErrorCode::invalid_input, msg::photo_cannot_read, path.filename().string());
    }
    FileFacts facts;
    crypto_hash_sha256_state state;
    crypto_hash_sha256_init(&state);
    std::vector<char> buffer(1 << 16);
    std::string head; // EXIF lives in the first 64 KiB of a JPEG
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        auto got = in.gcount();
        if (got <= 0) {
            break;
        }
        if (head.size() < (1u << 16)) {
            head.append(buffer.data(), static_cast<size_t>(got));
        }
        crypto_hash_sha256_update(&state, reinterpret_cast<unsigned char*>(buffer.data()),
                                  static_cast<unsigned long long>(got));
        facts.size += got;
    }
    if (in.bad()) {
        return fail(ErrorCode::io, msg::photo_read_error, path.filename().string());
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&state, digest);
    facts.sha256.assign(sizeof digest * 2, '0');
    sodium_bin2hex(facts.sha256.data(), facts.sha256.size() + 1, digest, sizeof digest);

    std::unique_ptr<ExifData, ExifDeleter> exif(exif_data_new_from_data(
        reinterpret_cast<const unsigned char*>(head.data()), static_cast<unsigned>(head.size())));
    if (exif) {
        for (ExifIfd ifd : {EXIF_IFD_EXIF, EXIF_IFD_0}) {
            for (ExifTag tag : {EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_TAG_DATE_TIME}) {
                if (!facts.taken_at) {
                    if (auto text = exif_text(exif.get(), ifd, tag)) {
                        facts.taken_at = exif_time(*text);
                    }
                }
            }
        }
        auto lat = exif_coordinate(exif.get(), static_cast<ExifTag>(EXIF_TAG_GPS_LATITUDE),
                                   static_cast<ExifTag>(EXIF_TAG_GPS_LATITUDE_REF));
        auto lon = exif_coordinate(exif.get(), static_cast<ExifTag>(EXIF_TAG_GPS_LONGITUDE),
                                   static_cast<ExifTag>(EXIF_TAG_GPS_LONGITUDE_REF));
        if (lat && lon && std::abs(*lat) <= 90 && std::abs(*lon) <= 180) {
            facts.lat = lat;
            facts.lon = lon;
        }
    }
    if (!facts.taken_at) {
        facts.taken_at = mtime_iso(st);
    }
    return facts;
}

} // namespace

Result<std::vector<PhotoAdded>> Engine::add_photos(const PhotoInput& input) {
    if (input.files.empty()) {
        return fail(ErrorCode::invalid_input, msg::photo_none);
    }
    std::optional<std::string> caption;
    if (input.caption) {
        auto c = validate_text("caption", *input.caption, 500, false);
        if (!c) {
            return tl::unexpected(c.error());
        }
        if (!c->empty()) {
            caption = *c;
        }
    }
    auto visit = visit_for(input.visit);
    if (!visit) {
        return tl::unexpected(visit.error());
    }
    std::vector<PhotoAdded> added;
    for (const auto& file : input.files) {
        auto facts = read_file_facts(file);
        if (!facts) {
            return tl::unexpected(facts.error());
        }
        if (auto kept = keep_photo_copy(file, facts->sha256); !kept) {
            return tl::unexpected(kept.error());
        }
        Photo p;
        p.id = uuid_from_key("photo", facts->sha256);
        p.visit_id = visit->id;
        p.sha256 = facts->sha256;
        p.size = facts->size;
        p.file_name = file.filename().string();
        if (auto name = validate_text("file name", *p.file_name, 255); !name) {
            p.file_name = std::nullopt; // a non-UTF-8 file name is not kept
        }
        p.taken_at = facts->taken_at;
        p.lat = facts->lat;
        p.lon = facts->lon;
        p.caption = caption;
        p.consent = input.consent;
        bool again = std::any_of(added.begin(), added.end(),
                                 [&](const PhotoAdded& a) { return a.photo.id == p.id; });
        added.push_back(PhotoAdded{std::move(p), again});
    }
    auto ok = write([&]() -> Result<void> {
        for (PhotoAdded& a : added) {
            if (a.duplicate) {
                continue;
            }
            CARAVAN_TRY(
                count,
                m_db
                    .query("SELECT count(*) FROM photos WHERE id = ? AND " CARAVAN_VISIBLE_SQL(""),
                           a.photo.id)
                    .one<std::int64_t>());
            a.duplicate = count.value_or(0) > 0;
            if (a.duplicate) {
                continue;
            }
            const Photo& p = a.photo;
            NewRecord fields(entities::photo);
            fields.set("visit_id", std::string_view(p.visit_id))
                .set("sha256", std::string_view(p.sha256))
                .set("size", static_cast<std::int64_t>(p.size))
                .set("file_name", or_null(p.file_name))
                .set("taken_at", or_null(p.taken_at))
                .set("lat", or_null(p.lat))
                .set("lon", or_null(p.lon))
                .set("caption", or_null(p.caption))
                .set("consent", p.consent)
                .set("deleted", false);
            auto event = record(fields, p.id);
            if (!event) {
                return tl::unexpected(event.error());
            }
        }
        return {};
    });
    if (!ok) {
        return tl::unexpected(ok.error());
    }
    return added;
}

} // namespace caravan::client
