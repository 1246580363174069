#pragma once
// The CLI's own error messages in English, Russian and Kazakh (see
// caravan/storage/message.hpp). The entries are in messages.inc.

#define CARAVAN_CATALOG_NAMESPACE caravan::cli::msg
#define CARAVAN_CATALOG_PREFIX "cli."
// In angle brackets: "messages.inc" would find storage's, beside catalog.inc.
#define CARAVAN_CATALOG_ENTRIES <messages.inc>
#include "caravan/storage/catalog.inc"
