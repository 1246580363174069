// Writes a small JPEG with EXIF (DateTimeOriginal and GPS) for tests that drive a real browser
// and cannot build one themselves (tests/ui/browser/field_day.py). With PIXELS, a JPEG made
// elsewhere (the browser's canvas), its image follows the EXIF, so the file is a picture a
// browser can show; without, it has no pixels at all.
//
//   make_jpeg OUT.jpg ["YYYY:MM:DD HH:MM:SS" [PIXELS.jpg]]
#include <fstream>
#include <iostream>
#include <iterator>

#include "../client/jpeg_exif.hpp"

int main(int argc, char** argv) {
    if (argc < 2 || argc > 4) {
        std::cerr << "usage: make_jpeg OUT.jpg [\"YYYY:MM:DD HH:MM:SS\" [PIXELS.jpg]]\n";
        return 2;
    }
    caravan::test::ExifSpec spec;
    if (argc >= 3) {
        spec.date_time_original = argv[2];
    }
    std::string jpeg = caravan::test::make_jpeg(spec);
    if (argc == 4) {
        std::ifstream in(argv[3], std::ios::binary);
        const std::string pixels{std::istreambuf_iterator<char>(in), {}};
        if (pixels.size() < 4 || pixels.compare(0, 2, "\xff\xd8") != 0) {
            std::cerr << "make_jpeg: " << argv[3] << " is not a JPEG\n";
            return 1;
        }
        // Our segments end before EOI; the picture's follow its SOI, EOI included.
        jpeg.resize(jpeg.size() - 2);
        jpeg += pixels.substr(2);
    }
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out << jpeg;
    out.close();
    if (!out) {
        std::cerr << "make_jpeg: cannot write " << argv[1] << "\n";
        return 1;
    }
    return 0;
}
