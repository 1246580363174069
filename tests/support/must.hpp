#pragma once
// Unwrapping a Result in a test: the value of a call that must succeed, or a failed test naming
// the error's code and message. `ok` is the same function under the name some suites use.
// Declared in namespace caravan so that argument-dependent lookup finds them from any test
// (a Result's error type is caravan::Error).

#include <catch2/catch.hpp>

#include <utility>

#include "caravan/storage/result.hpp"

namespace caravan {

template <class T> T must(Result<T> result) {
    if (!result) {
        FAIL("unexpected error (" << to_string(result.error().code)
                                  << "): " << result.error().message);
    }
    return std::move(*result);
}

inline void must(Result<void> result) {
    if (!result) {
        FAIL("unexpected error (" << to_string(result.error().code)
                                  << "): " << result.error().message);
    }
}

template <class T> T ok(Result<T> result) {
    return must(std::move(result));
}

inline void ok(Result<void> result) {
    must(std::move(result));
}

} // namespace caravan

namespace caravan::test {
// For suites that name them as test::ok / test::must.
using caravan::must;
using caravan::ok;
} // namespace caravan::test
