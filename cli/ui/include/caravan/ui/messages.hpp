#pragma once
// The lawyer's app's own words in English, Russian and Kazakh (see caravan/storage/message.hpp);
// the entries are in messages.inc.

#define CARAVAN_CATALOG_NAMESPACE caravan::ui::msg
#define CARAVAN_CATALOG_PREFIX "ui."
#define CARAVAN_CATALOG_ENTRIES "caravan/ui/messages.inc"
#include "caravan/storage/catalog.inc"
