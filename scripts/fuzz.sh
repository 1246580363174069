#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz and runs each for a bounded
# time (default 60 s each; FUZZ_SECONDS to change; FUZZ_TARGETS="event_apply cli" for a subset).
# New crash inputs are written to build-fuzz/crashes/; keep each one under
# tests/fuzz/corpus/<target>/ once fixed, so the normal test suite replays it.
# At the end it prints each target's executions per second (libFuzzer's final stats), so a slow
# target shows up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"protocol event_apply cli plan json_limits xlsx recovery"}
build="$here/build-fuzz"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=true # as scripts/build.sh: clones share it
  export CCACHE_SLOPPINESS=pch_defines,time_macros     # as scripts/build.sh: precompiled headers
fi
CC=clang-14 CXX=clang++-14 cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCARAVAN_FUZZ=ON -DCARAVAN_BENCH=OFF "${launcher[@]}" >/dev/null
ninja_targets=()
for target in $targets; do
  ninja_targets+=("fuzz_$target")
done
ninja -C "$build" --quiet "${ninja_targets[@]}"
mkdir -p "$build/crashes"
status=0
summary=()
for target in $targets; do
  work="$build/corpus-$target"
  log="$build/fuzz_$target.log"
  mkdir -p "$work"
  echo "== fuzz_$target for ${seconds}s"
  result=ok
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz_$target" "$work" \
       "$here/tests/fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
       -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 2>"$log"; then
    echo "fuzz_$target found a crash: see $build/crashes/ and $log"
    tail -n 40 "$log"
    result=CRASH
    status=1
  fi
  # libFuzzer's final stats: "stat::number_of_executed_units: N" and
  # "stat::average_exec_per_sec: N" (print_final_stats); a crash leaves the last status line
  # ("#N ... exec/s: N") to read instead.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  if [ -z "$rate" ]; then
    last=$(grep -E '^#[0-9]+.*exec/s: [0-9]+' "$log" | tail -n 1 || true)
    runs=$(printf '%s' "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
    rate=$(printf '%s' "$last" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
  fi
  line=$(printf 'fuzz_%-12s %10s exec/s %12s runs in %ss  %s' "$target" "${rate:-?}" "${runs:-?}" \
         "$seconds" "$result")
  echo "$line"
  summary+=("$line")
done
echo "== executions per second"
printf '%s\n' "${summary[@]}"
exit $status
