// Who the devices known here belong to.
#include "caravan/client/engine.hpp"

namespace caravan::client {

Result<std::map<std::string, std::string>> Engine::lawyers() {
    std::map<std::string, std::string> out;
    CARAVAN_TRY_VOID(m_db.query("SELECT id, coalesce(lawyer, '') FROM devices")
                         .each([&](const storage::Statement& s) {
                             out.emplace(s.column_text(0), s.column_text(1));
                         }));
    return out;
}

} // namespace caravan::client
