#pragma once
// The coordinator's dashboard's own words in English, Russian and Kazakh (see
// caravan/storage/message.hpp); the entries are in messages.inc.

#define CARAVAN_CATALOG_NAMESPACE caravan::dashboard::msg
#define CARAVAN_CATALOG_PREFIX "dashboard."
#define CARAVAN_CATALOG_ENTRIES "caravan/dashboard/messages.inc"
#include "caravan/storage/catalog.inc"
