#pragma once
// The messages of storage's own errors (see message.hpp). Paths, ids, schema component names
// and SQLite's own detail text are arguments and stay as they are.

#define CARAVAN_CATALOG_NAMESPACE caravan::storage::msg
#define CARAVAN_CATALOG_PREFIX "storage."
#define CARAVAN_CATALOG_ENTRIES "caravan/storage/messages.inc"
#include "caravan/storage/catalog.inc"
