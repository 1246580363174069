// Who the devices known here belong to.
#include "caravan/client/engine.hpp"

namespace caravan::client {

Result<std::map<std::string, std::string>> Engine::lawyers() {
    auto stmt = m_db.prepare("SELECT id, coalesce(lawyer, '') FROM devices");
    if (!stmt) {
        return tl::unexpected(stmt.error());
    }
    std::map<std::string, std::string> out;
    for (;;) {
        auto row = stmt->step();
        if (!row) {
            return tl::unexpected(row.error());
        }
        if (!*row) {
            return out;
        }
        out.emplace(stmt->column_text(0), stmt->column_text(1));
    }
}

} // namespace caravan::client
