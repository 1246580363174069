#include "temp_dir.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace caravan::test {

TempDir::TempDir() {
    std::string base = std::filesystem::temp_directory_path() / "caravan-test-XXXXXX";
    if (!::mkdtemp(base.data())) {
        throw std::runtime_error("mkdtemp failed");
    }
    m_path = base;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
}

} // namespace caravan::test
