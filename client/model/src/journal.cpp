#include "caravan/client/journal.hpp"

#include <optional>

#include "caravan/client/text.hpp"

namespace caravan::client {

namespace {

constexpr JournalColumn k_columns[] = {
    {"no", "№", "№", "No."},
    {"id", "id", "id", "id"},
    {"date", "күні", "дата", "date"},
    {"region", "облыс", "область", "region"},
    {"village", "ауыл", "село", "village"},
    {"district", "аудан", "район", "district"},
    {"lawyer", "заңгер", "юрист", "lawyer"},
    {"gender", "жынысы", "пол", "gender"},
    {"age", "жас тобы", "возрастная группа", "age band"},
    {"category", "әлеуметтік санаты", "социальная категория", "social category"},
    {"vulnerable", "әлеуметтік осал топ", "социально уязвимая группа", "vulnerable group"},
    {"topics", "тақырыптар", "темы", "topics"},
    {"question", "сұрақтың қысқаша мазмұны", "краткое содержание вопроса", "question"},
    {"advice", "берілген кеңес", "данная консультация", "advice"},
    {"outcome", "нәтижесі", "результат", "outcome"},
    {"follow_up", "қосымша жұмыс қажет", "требуется продолжение", "follow-up needed"},
    {"lang", "кеңес тілі", "язык консультации", "language"},
};

} // namespace

std::span<const JournalColumn> journal_columns() { return k_columns; }

const JournalColumn* find_journal_column(std::string_view name) {
    std::string folded = fold_case(normalize_space(name));
    for (const JournalColumn& c : k_columns) {
        if (folded == c.code || folded == fold_case(c.kk) || folded == fold_case(c.ru) ||
            folded == fold_case(c.en)) {
            return &c;
        }
    }
    return nullptr;
}

std::optional<bool> parse_yes_no(std::string_view text) {
    std::string folded = fold_case(normalize_space(text));
    for (std::string_view yes : {"yes", "иә", "да", "true", "1", "y"}) {
        if (folded == yes) {
            return true;
        }
    }
    for (std::string_view no : {"no", "жоқ", "нет", "false", "0", "n"}) {
        if (folded == no) {
            return false;
        }
    }
    return std::nullopt;
}

} // namespace caravan::client
