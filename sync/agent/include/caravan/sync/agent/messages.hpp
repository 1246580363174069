#pragma once
// The sync agent's error messages in English, Russian and Kazakh (see
// caravan/storage/message.hpp): the errors `caravan enroll`, `caravan sync` and
// `caravan schedule` print. The server's wire messages stay English (protocol text).

#define CARAVAN_CATALOG_NAMESPACE caravan::sync::agent::msg
#define CARAVAN_CATALOG_PREFIX "agent."
#define CARAVAN_CATALOG_ENTRIES "caravan/sync/agent/messages.inc"
#include "caravan/storage/catalog.inc"
