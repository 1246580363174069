#include "output.hpp"

#include <map>

#include "caravan/client/text.hpp"

namespace caravan::cli {

void print_json(Context& ctx, const nlohmann::json& document) {
    // The dump escapes C0 controls itself; DEL, C1 controls and direction overrides it leaves
    // raw, and those become \uXXXX escapes here (still the same JSON document).
    ctx.out << client::escape_controls(
                   document.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), true)
            << "\n";
}

std::string shown(std::string_view text) { return client::escape_controls(text, false); }

std::string shown_note(std::string_view text) { return client::escape_controls(text, true); }

namespace {

struct Phrase {
    std::string_view kk, ru, en;
};

const std::map<std::string_view, Phrase>& phrases() {
    static const std::map<std::string_view, Phrase> all = {
        {"saved", {"сақталды", "сохранено", "saved"}},
        {"unchanged",
         {"өзгеріс жоқ: мәндер бұрынғыдай", "без изменений: значения уже такие",
          "nothing changed: the values are already these"}},
        {"device", {"құрылғы", "устройство", "device"}},
        {"lawyer", {"заңгер", "юрист", "lawyer"}},
        {"region", {"облыс", "область", "region"}},
        {"district", {"аудан", "район", "district"}},
        {"village", {"ауыл", "село", "village"}},
        {"villages", {"ауылдар", "сёла", "villages"}},
        {"visit", {"сапар", "выезд", "visit"}},
        {"visits", {"сапарлар", "выезды", "visits"}},
        {"open visits", {"ашық сапарлар", "открытые выезды", "open visits"}},
        {"current visit", {"ағымдағы сапар", "текущий выезд", "current visit"}},
        {"none", {"жоқ", "нет", "none"}},
        {"date", {"күні", "дата", "date"}},
        {"status", {"күйі", "статус", "status"}},
        {"open", {"ашық", "открыт", "open"}},
        {"closed", {"жабық", "закрыт", "closed"}},
        {"id", {"id", "id", "id"}},
        {"gender", {"жынысы", "пол", "gender"}},
        {"age", {"жасы", "возраст", "age"}},
        {"category", {"санаты", "категория", "category"}},
        {"vulnerable", {"әлеуметтік осал", "социально уязвимый", "vulnerable"}},
        {"topics", {"тақырыптар", "темы", "topics"}},
        {"outcome", {"нәтиже", "результат", "outcome"}},
        {"question", {"сұрақ", "вопрос", "question"}},
        {"advice", {"кеңес", "рекомендация", "advice"}},
        {"follow-up", {"қосымша жұмыс", "требует продолжения", "follow-up"}},
        {"language", {"тілі", "язык", "language"}},
        {"consultations", {"кеңестер", "консультации", "consultations"}},
        {"attendance entries", {"қатысу жазбалары", "записи посещаемости", "attendance entries"}},
        {"participants", {"қатысушылар", "участники", "participants"}},
        {"surveys", {"сауалнамалар", "опросы", "surveys"}},
        {"photos", {"фотосуреттер", "фотографии", "photos"}},
        {"events", {"оқиғалар", "события", "events"}},
        {"unsynced", {"синхрондалмаған", "не синхронизировано", "unsynced changes"}},
        {"oldest unsynced",
         {"ең ескі синхрондалмаған", "самое старое несинхронизированное", "oldest unsynced"}},
        {"conflicts", {"қайшылықтар", "конфликты", "conflicts"}},
        {"yes", {"иә", "да", "yes"}},
        {"no", {"жоқ", "нет", "no"}},
        {"count", {"саны", "количество", "count"}},
        {"duplicate", {"бұрын тіркелген", "уже записано", "already recorded"}},
        {"not initialised", {"инициализацияланбаған", "не инициализировано", "not initialised"}},
        {"deleted", {"жойылды", "удалено", "deleted"}},
        {"no changes", {"өзгеріс жоқ", "изменений нет", "no changes"}},
        {"time", {"уақыты", "время", "time"}},
        {"change", {"өзгеріс", "изменение", "change"}},
        {"by", {"кім", "кто", "by"}},
        {"restored", {"қалпына келтірілді", "восстановлено", "restored"}},
        {"kept", {"қалдырылды", "оставлено", "kept"}},
        {"overwritten", {"қайта жазылды", "перезаписано", "overwritten"}},
        {"deleted while edited",
         {"басқа құрылғыда өңделіп жатқанда жойылды", "удалено, пока на другом устройстве "
                                                       "его изменяли",
          "deleted while edited on another device"}},
        {"the deletion", {"жою", "удаление", "the deletion"}},
        {"the edit", {"өңдеу", "изменение", "the edit"}},
        {"hidden with the record",
         {"жазбамен бірге жасырылды", "скрыто вместе с записью", "is hidden with the record"}},
        {"visible again",
         {"қайта көрінеді: жазба кейін қалпына келтірілді",
          "снова видно: запись с тех пор восстановлена",
          "is visible again: the record was undeleted since"}},
        {"to bring it back", {"қайтару үшін", "чтобы вернуть", "to bring it back"}},
    };
    return all;
}

} // namespace

std::string_view phrase(Context& ctx, std::string_view key) {
    auto it = phrases().find(key);
    if (it == phrases().end()) {
        return key;
    }
    const Phrase& p = it->second;
    return ctx.lang == client::Lang::kk ? p.kk : ctx.lang == client::Lang::ru ? p.ru : p.en;
}

std::string label(Context& ctx, const client::Enumeration& e, std::string_view code) {
    return std::string(e.label(code, ctx.lang));
}

std::string labels(Context& ctx, const client::Enumeration& e,
                   const std::vector<std::string>& codes) {
    std::string out;
    for (const auto& c : codes) {
        out += (out.empty() ? "" : ", ") + label(ctx, e, c);
    }
    return out;
}

std::string yes_no(Context& ctx, bool value) {
    return std::string(phrase(ctx, value ? "yes" : "no"));
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::vector<std::string>> safe;
    safe.reserve(rows.size());
    for (const auto& row : rows) {
        std::vector<std::string> cells;
        for (const auto& cell : row) {
            cells.push_back(shown(cell));
        }
        safe.push_back(std::move(cells));
    }
    std::vector<size_t> widths(header.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], client::utf8_length(row[i]));
        }
    };
    measure(header);
    for (const auto& row : safe) {
        measure(row);
    }
    auto print_row = [&](const std::vector<std::string>& row) {
        std::string line;
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line.append(widths[i] - client::utf8_length(row[i]) + 2, ' ');
            }
        }
        out << line << "\n";
    };
    print_row(header);
    for (const auto& row : safe) {
        print_row(row);
    }
}

StreamTable::StreamTable(std::ostream& out, std::vector<std::string> header,
                         const std::vector<size_t>& width_hints)
    : m_out(out), m_header(std::move(header)), m_widths(m_header.size(), 0) {
    for (size_t i = 0; i < m_header.size(); ++i) {
        m_widths[i] =
            std::max(client::utf8_length(m_header[i]), i < width_hints.size() ? width_hints[i] : 0);
    }
}

void StreamTable::print(const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size() && i < m_widths.size(); ++i) {
        line += cells[i];
        if (i + 1 < cells.size()) {
            const size_t used = client::utf8_length(cells[i]);
            line.append(used < m_widths[i] ? m_widths[i] - used + 2 : 2, ' ');
        }
    }
    m_out << line << "\n";
}

void StreamTable::row(const std::vector<std::string>& cells) {
    if (!m_started) {
        print(m_header);
        m_started = true;
    }
    print(cells);
}

void StreamTable::finish() {
    if (!m_started) {
        print(m_header);
        m_started = true;
    }
}

size_t widest_label(Context& ctx, const client::Enumeration& e) {
    size_t widest = 0;
    for (const auto& v : e.values) {
        widest = std::max(widest, client::utf8_length(e.label(v.code, ctx.lang)));
    }
    return widest;
}

} // namespace caravan::cli
