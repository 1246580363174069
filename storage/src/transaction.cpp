#include "caravan/storage/transaction.hpp"

namespace caravan::storage {

Result<Transaction> Transaction::begin(Database& db) {
    if (auto ok = db.exec("BEGIN IMMEDIATE"); !ok) {
        return tl::unexpected(ok.error());
    }
    return Transaction(&db);
}

Transaction::~Transaction() {
    if (m_db && m_db->in_transaction()) {
        (void)m_db->exec("ROLLBACK");
    }
}

Result<void> Transaction::commit() {
    if (!m_db) {
        // i18n-exempt: a bug in the caller, never a user's doing
        return fail(ErrorCode::internal, "commit of a finished transaction");
    }
    auto ok = m_db->exec("COMMIT");
    if (!ok) {
        return ok; // the destructor rolls back
    }
    m_db = nullptr;
    return {};
}

} // namespace caravan::storage
