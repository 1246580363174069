#pragma once
// The state Engine holds while a write transaction is open (private to client/src): the clock
// and the next sequence number are read once under the write lock and saved at commit.
#include <optional>
#include <string>
#include <vector>

#include "caravan/client/engine.hpp"
#include "caravan/client/hlc.hpp"
#include "caravan/storage/transaction.hpp"

namespace caravan::client {

// Where this device may record: any region, or only these (as the server's enrollment answer
// spelled them).
struct Engine::RecordingScope {
    bool any = true;
    std::vector<std::string> regions;
};

struct Engine::WriteState {
    storage::Transaction tx;
    HlcClock clock;
    std::int64_t next_seq = 0;
    std::string device_id;
    // The identity, read once per transaction (a batch of 1,000 adds read it 1,000 times, three
    // settings each); it cannot change under the write lock once known.
    std::optional<Device> device;
    // The recording scope, read once per transaction for the same reason.
    std::optional<RecordingScope> scope;
};

} // namespace caravan::client
