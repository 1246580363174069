// The exports' catalogs (caravan/client/export/texts.hpp): every data-quality warning sentence
// in kk/ru/en with the same placeholders, and every term of the reports in the three languages.

#include <catch2/catch.hpp>

#include <set>

#include "caravan/client/export/texts.hpp"
#include "caravan/client/messages.hpp"
#include "caravan/storage/messages.hpp"
#include "message_catalog_check.hpp"

using namespace caravan;

TEST_CASE("export texts: every warning sentence is in kk, ru and en with the same placeholders",
          "[client][i18n]") {
    std::set<std::string> ids;
    test::check_catalog(storage::msg::catalog(), ids);
    test::check_catalog(client::msg::catalog(), ids);
    test::check_catalog(client::exports::texts::sentences(), ids);
}

TEST_CASE("export texts: every term is in kk, ru and en, translated, without placeholders",
          "[client][i18n]") {
    std::set<std::string> ids;
    for (const Message* m : client::exports::texts::terms()) {
        INFO("term " << m->id << ": en \"" << m->en << "\" ru \"" << m->ru << "\" kk \"" << m->kk
                     << "\"");
        CHECK(ids.insert(std::string(m->id)).second);
        CHECK_FALSE(m->en.empty());
        // A term may be one word in Kazakh and Russian ("код"), never the English left as it is.
        CHECK(m->ru != m->en);
        CHECK(m->kk != m->en);
        CHECK(test::has_cyrillic(m->ru));
        CHECK(test::has_cyrillic(m->kk));
        CHECK(test::placeholders(m->en).empty());
        CHECK(test::placeholders(m->ru).empty());
        CHECK(test::placeholders(m->kk).empty());
    }
    for (const Message* m : client::exports::texts::sentences()) {
        CHECK(ids.insert(std::string(m->id)).second); // unique across the two lists
    }
}
