#pragma once
// The messages of storage's own errors (see message.hpp). Paths, ids, schema component names
// and SQLite's own detail text are arguments and stay as they are.

#include <span>

#include "caravan/storage/message.hpp"

#define CARAVAN_STORAGE_MESSAGES(X)                                                              \
    X(schema_too_new,                                                                           \
      "the database's {0} schema is version {1}, newer than this program ({2}): upgrade caravan", \
      "схема {0} базы данных имеет версию {1}, более новую, чем знает эта программа ({2}): "      \
      "обновите caravan",                                                                       \
      "дерекқордың {0} сұлбасының нұсқасы {1}, бұл бағдарлама білетін нұсқадан ({2}) жаңа: "     \
      "caravan-ды жаңартыңыз")                                                                  \
    X(migration_failed, "migrating {0} to version {1}: {2}",                                    \
      "обновление схемы {0} до версии {1}: {2}", "{0} сұлбасын {1} нұсқасына жаңарту: {2}")     \
    X(cannot_create_directory, "cannot create directory {0}: {1}",                              \
      "не удалось создать каталог {0}: {1}", "{0} каталогын құру мүмкін болмады: {1}")          \
    X(cannot_create_file, "cannot create {0}: {1}", "не удалось создать {0}: {1}",              \
      "{0} файлын құру мүмкін болмады: {1}")                                                   \
    X(database_missing, "database {0} does not exist", "база данных {0} не существует",         \
      "{0} дерекқоры жоқ")                                                                     \
    X(not_a_database, "{0} is not a Caravan database or is damaged ({1})",                      \
      "{0} не является базой данных Caravan или повреждён ({1})",                               \
      "{0} Caravan дерекқоры емес немесе бүлінген ({1})")                                       \
    X(foreign_database, "{0} is an SQLite database of another program, not Caravan's",          \
      "{0} является базой данных SQLite другой программы, а не Caravan",                       \
      "{0} Caravan-ның емес, басқа бағдарламаның SQLite дерекқоры")                             \
    X(cannot_use_wal, "cannot switch {0} to WAL mode",                                          \
      "не удалось перевести {0} в режим WAL", "{0} файлын WAL режиміне ауыстыру мүмкін болмады") \
    X(damaged, "{0} is damaged: {1}", "{0} повреждён: {1}", "{0} бүлінген: {1}")                \
    X(integrity_failed, "{0} failed its integrity check: {1}",                                  \
      "{0} не прошёл проверку целостности: {1}", "{0} тұтастық тексерісінен өтпеді: {1}")      \
    X(event_clock_reused,                                                                       \
      "event {0} of device {1} repeats the clock value of another event of that device",        \
      "событие {0} устройства {1} повторяет значение часов другого события этого устройства",   \
      "{1} құрылғысының {0} оқиғасы сол құрылғының басқа оқиғасының сағат мәнін қайталайды")    \
    X(event_differs, "event {0} of device {1} is already stored with different content",        \
      "событие {0} устройства {1} уже сохранено с другим содержимым",                           \
      "{1} құрылғысының {0} оқиғасы басқа мазмұнмен сақталып қойған")                           \
    X(database_locked, "{0}: the database is locked by another caravan process",                \
      "{0}: база данных заблокирована другим процессом caravan",                                \
      "{0}: дерекқорды басқа caravan процесі бұғаттап тұр")                                     \
    X(database_full, "{0}: the disk or database is full",                                      \
      "{0}: диск или база данных заполнены", "{0}: диск немесе дерекқор толып қалды")           \
    X(sqlite_failed, "{0}: {1}", "ошибка базы данных: {0}: {1}", "дерекқор қатесі: {0}: {1}")

namespace caravan::storage::msg {

#define CARAVAN_STORAGE_DECLARE(name, en, ru, kk) CARAVAN_DECLARE_MESSAGE("storage.", name, en, ru, kk)
CARAVAN_STORAGE_MESSAGES(CARAVAN_STORAGE_DECLARE)
#undef CARAVAN_STORAGE_DECLARE

// Every message above, for tests.
[[nodiscard]] std::span<const Message* const> catalog() noexcept;

} // namespace caravan::storage::msg
