#pragma once
// A read transaction: every query an export runs between begin() and destruction sees the same
// committed state, even while sync or a lawyer writes to the database (WAL mode readers do not
// block writers). Ends with a rollback (nothing is ever written through it); never throws.
// When the connection is already inside a transaction, it does nothing and the caller's
// transaction provides the snapshot.

#include "caravan/storage/database.hpp"

namespace caravan::client::exports {

class ReadSnapshot {
  public:
    [[nodiscard]] static Result<ReadSnapshot> begin(storage::Database& db);
    ReadSnapshot(ReadSnapshot&& other) noexcept : m_db(other.m_db) { other.m_db = nullptr; }
    ReadSnapshot& operator=(ReadSnapshot&&) = delete;
    ReadSnapshot(const ReadSnapshot&) = delete;
    ~ReadSnapshot();

  private:
    explicit ReadSnapshot(storage::Database* db) : m_db(db) {}
    storage::Database* m_db; // null when the caller's transaction is used
};

} // namespace caravan::client::exports
