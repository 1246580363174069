#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite with CTest.
# Usage: scripts/test.sh [--sanitize]   (--sanitize: ASan+UBSan build in build-asan)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"

build="$here/build"
extra=()
if [ "${1:-}" = "--sanitize" ]; then
  build="$here/build-asan"
  extra=(-DCARAVAN_SANITIZE=ON -DCARAVAN_BENCH=OFF)
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fi
# Debug (build.sh default) with -Werror: the configuration checked warning-free on every change.
"$here/scripts/build.sh" "$build" -DCARAVAN_WERROR=ON "${extra[@]}"
cd "$build"
ctest --output-on-failure --timeout 900 -j"$(nproc)"
