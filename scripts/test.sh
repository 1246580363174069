#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite.
# Usage: scripts/test.sh [--quick | --sanitize | --fuzz]
#   (none)      everything, in this order, stopping at the first failure:
#                 1. Debug build with -Werror in build/, CTest (unit, integration, fault, chaos,
#                    fuzz-corpus replays);
#                 2. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer in
#                    build-asan/;
#                 3. every libFuzzer target for FUZZ_SECONDS (default 30) in build-fuzz/.
#   --quick     step 1 only (what a developer runs while working)
#   --sanitize  step 2 only
#   --fuzz      step 3 only
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-all}
case "$mode" in
  all|--quick|--sanitize|--fuzz) ;;
  *) echo "usage: scripts/test.sh [--quick | --sanitize | --fuzz]" >&2; exit 2 ;;
esac
"$here/scripts/install-deps.sh"

run_suite() { # build_dir jobs [cmake args...]
  local build=$1 jobs=$2
  shift 2
  # Debug (build.sh default) with -Werror: the configuration checked warning-free on every change.
  "$here/scripts/build.sh" "$build" -DCARAVAN_WERROR=ON "$@"
  (cd "$build" && ctest --output-on-failure --timeout 900 -j"$jobs")
}
# Tests running at once. Most of the suite waits (servers, clients, browsers, fsync): a full
# Debug run at -j2 kept the two cores about 60 % busy, and took 380 s against 277 s at -j4
# (docs/performance.md, "Build and CI time"). The sanitized tests use more CPU each: one more
# than the cores. CARAVAN_TEST_JOBS overrides both.
cores=$(nproc)
debug_jobs=${CARAVAN_TEST_JOBS:-$((cores * 2))}
sanitize_jobs=${CARAVAN_TEST_JOBS:-$((cores + 1))}

started=$SECONDS
if [ "$mode" = all ] || [ "$mode" = --quick ]; then
  echo "== test suite (Debug, build/)"
  run_suite "$here/build" "$debug_jobs"
fi
if [ "$mode" = all ] || [ "$mode" = --sanitize ]; then
  echo "== test suite under ASan + UBSan (build-asan/)"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite "$here/build-asan" "$sanitize_jobs" -DCARAVAN_SANITIZE=ON -DCARAVAN_BENCH=OFF
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi
if [ "$mode" = all ] || [ "$mode" = --fuzz ]; then
  echo "== fuzz targets, ${FUZZ_SECONDS:-30} s each (build-fuzz/)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} "$here/scripts/fuzz.sh"
fi
echo "== all passed in $((SECONDS - started)) s"
