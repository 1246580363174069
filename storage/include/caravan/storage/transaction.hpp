#pragma once
// A move-only write transaction. BEGIN IMMEDIATE takes the write lock up front, so a second
// writer waits (busy timeout) at begin rather than failing half-way. The destructor rolls back
// unless commit() succeeded; it never throws.

#include "caravan/storage/database.hpp"

namespace caravan::storage {

class Transaction {
  public:
    [[nodiscard]] static Result<Transaction> begin(Database& db);

    Transaction(Transaction&& other) noexcept : m_db(other.m_db) { other.m_db = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    Transaction(const Transaction&) = delete;
    ~Transaction();

    // Durable once this returns a value (synchronous=FULL).
    [[nodiscard]] Result<void> commit();

  private:
    explicit Transaction(Database* db) : m_db(db) {}
    Database* m_db;
};

} // namespace caravan::storage
