#pragma once
// Builds a tiny JPEG file by hand: SOI, an APP1 "Exif" segment holding a little-endian TIFF
// structure (IFD0 -> Exif IFD with DateTimeOriginal, GPS IFD with latitude/longitude), a comment
// segment that makes each file's content distinct, EOI. Enough for an EXIF reader; no pixels.

#include <cstdint>
#include <string>
#include <vector>

namespace caravan::test {

namespace jpeg_detail {

inline std::string le16(std::uint16_t v) {
    return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}
inline std::string le32(std::uint32_t v) {
    return le16(v & 0xffff) + le16(v >> 16);
}
inline std::string be16(std::uint16_t v) {
    return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

enum : std::uint16_t { k_ascii = 2, k_long = 4, k_rational = 5 };

struct Entry {
    std::uint16_t tag;
    std::uint16_t type;
    std::uint32_t count;
    std::string bytes; // value in file byte order; stored inline when at most 4 bytes
};

inline std::size_t ifd_size(const std::vector<Entry>& entries) {
    std::size_t size = 2 + 12 * entries.size() + 4;
    for (const Entry& e : entries) {
        if (e.bytes.size() > 4) {
            size += e.bytes.size() + (e.bytes.size() & 1);
        }
    }
    return size;
}

// An IFD placed at offset `at` of the TIFF structure, its out-of-line values right after it.
inline std::string ifd(const std::vector<Entry>& entries, std::uint32_t at) {
    std::string head = le16(static_cast<std::uint16_t>(entries.size()));
    std::string data;
    const std::uint32_t data_at = at + static_cast<std::uint32_t>(2 + 12 * entries.size() + 4);
    for (const Entry& e : entries) {
        head += le16(e.tag) + le16(e.type) + le32(e.count);
        if (e.bytes.size() <= 4) {
            head += e.bytes + std::string(4 - e.bytes.size(), '\0');
        } else {
            head += le32(data_at + static_cast<std::uint32_t>(data.size()));
            data += e.bytes;
            if (data.size() & 1) {
                data.push_back('\0');
            }
        }
    }
    head += le32(0); // no next IFD
    return head + data;
}

inline std::string rationals(std::uint32_t deg, std::uint32_t min, std::uint32_t sec_x100) {
    return le32(deg) + le32(1) + le32(min) + le32(1) + le32(sec_x100) + le32(100);
}

} // namespace jpeg_detail

struct ExifSpec {
    std::string date_time_original = "2024:05:14 10:31:02"; // empty: no DateTimeOriginal
    bool gps = true;
    char lat_ref = 'N';
    std::uint32_t lat_deg = 43, lat_min = 15, lat_sec_x100 = 3050; // 43°15'30.50"
    char lon_ref = 'E';
    std::uint32_t lon_deg = 76, lon_min = 57, lon_sec_x100 = 0; // 76°57'00"
    std::string comment = "caravan test image";
};

inline std::string make_jpeg(const ExifSpec& spec) {
    using namespace jpeg_detail;
    std::vector<Entry> exif_entries;
    if (!spec.date_time_original.empty()) {
        std::string text = spec.date_time_original + '\0';
        exif_entries.push_back({0x9003, k_ascii, static_cast<std::uint32_t>(text.size()), text});
    }
    std::vector<Entry> gps_entries;
    if (spec.gps) {
        gps_entries = {
            {0x0001, k_ascii, 2, std::string{spec.lat_ref, '\0'}},
            {0x0002, k_rational, 3, rationals(spec.lat_deg, spec.lat_min, spec.lat_sec_x100)},
            {0x0003, k_ascii, 2, std::string{spec.lon_ref, '\0'}},
            {0x0004, k_rational, 3, rationals(spec.lon_deg, spec.lon_min, spec.lon_sec_x100)},
        };
    }
    // Layout: header (8) | IFD0 | Exif IFD | GPS IFD
    const std::uint32_t ifd0_at = 8;
    std::vector<Entry> ifd0_entries = {{0x8769, k_long, 1, ""}, {0x8825, k_long, 1, ""}};
    const auto exif_at = static_cast<std::uint32_t>(ifd0_at + ifd_size(ifd0_entries));
    const auto gps_at = static_cast<std::uint32_t>(exif_at + ifd_size(exif_entries));
    ifd0_entries[0].bytes = le32(exif_at);
    ifd0_entries[1].bytes = le32(gps_at);
    std::string tiff = std::string("II\x2a\0", 4) + le32(ifd0_at) + ifd(ifd0_entries, ifd0_at) +
                       ifd(exif_entries, exif_at) + ifd(gps_entries, gps_at);

    std::string app1 = std::string("Exif\0\0", 6) + tiff;
    std::string jpeg = "\xff\xd8";
    jpeg += "\xff\xe1" + be16(static_cast<std::uint16_t>(app1.size() + 2)) + app1;
    jpeg += "\xff\xfe" + be16(static_cast<std::uint16_t>(spec.comment.size() + 2)) + spec.comment;
    jpeg += "\xff\xd9";
    return jpeg;
}

} // namespace caravan::test
