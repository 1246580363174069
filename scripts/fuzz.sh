#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz and runs each for a bounded
# time (default 60 s each; FUZZ_SECONDS to change). New crash inputs are written to
# build-fuzz/crashes/; keep each one under tests/fuzz/corpus/<target>/ once fixed, so the
# normal test suite replays it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
seconds=${FUZZ_SECONDS:-60}
build="$here/build-fuzz"
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCARAVAN_FUZZ=ON -DCARAVAN_BENCH=OFF "${launcher[@]}" >/dev/null
ninja -C "$build" --quiet fuzz_protocol fuzz_event_apply fuzz_cli fuzz_plan fuzz_xlsx
mkdir -p "$build/crashes"
status=0
for target in protocol event_apply cli plan xlsx; do
  work="$build/corpus-$target"
  mkdir -p "$work"
  echo "== fuzz_$target for ${seconds}s"
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz_$target" "$work" \
       "$here/tests/fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
       -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 2>"$build/fuzz_$target.log"; then
    echo "fuzz_$target found a crash: see $build/crashes/ and $build/fuzz_$target.log"
    tail -n 40 "$build/fuzz_$target.log"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$build/fuzz_$target.log" | tail -n 2
  fi
done
exit $status
