// The plan-file parser must answer any text with a plan that respects its documented ranges or
// with an invalid_input error naming the file — never a crash, an exception or a partial plan.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "caravan/client/export/plan.hpp"

using namespace caravan;
using namespace caravan::client::exports;

namespace {

void require(bool condition) {
    if (!condition) {
        std::abort(); // the fuzzer reports it with the input that caused it
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto plan = parse_plan(text, "fuzz.json");
    if (!plan) {
        require(plan.error().code == ErrorCode::invalid_input);
        require(plan.error().message.find("fuzz.json") != std::string::npos);
        return 0;
    }
    const PlanTargets& t = plan->targets;
    for (std::int64_t count :
         {t.villages, t.participants, t.journals, t.lawyers, t.protected_people,
          t.visits.value_or(0), t.consultations.value_or(0)}) {
        require(count >= 0 && count <= 1000000000);
    }
    require(t.satisfaction_percent >= 0 && t.satisfaction_percent <= 100);
    require(t.photos_per_visit >= 0 && t.photos_per_visit <= 10000);
    require(!(plan->from && plan->to) || *plan->from <= *plan->to);
    // Parsing is a function of the text.
    auto again = parse_plan(text, "fuzz.json");
    require(again && again->targets.villages == t.villages && again->name == plan->name &&
            again->from == plan->from && again->to == plan->to);
    return 0;
}
