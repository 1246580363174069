#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) in build-fuzz and runs each for a bounded
# time (default 60 s each; FUZZ_SECONDS to change; FUZZ_TARGETS="event_apply cli" for a subset),
# as many at once as the machine has cores (FUZZ_JOBS to change).
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

# One target's run: its log in $build/fuzz_TARGET.log, its summary line in
# $build/fuzz_TARGET.result (last word ok or CRASH).
run_target() {
  local target=$1 work="$build/corpus-$1" log="$build/fuzz_$1.log" result=ok runs rate last
  mkdir -p "$work"
  if ! ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/fuzz_$target" "$work" \
       "$here/tests/fuzz/corpus/$target" -max_total_time="$seconds" -rss_limit_mb=2048 \
       -artifact_prefix="$build/crashes/$target-" -print_final_stats=1 2>"$log"; then
    result=CRASH
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
  printf 'fuzz_%-12s %10s exec/s %12s runs in %ss  %s\n' "$target" "${rate:-?}" "${runs:-?}" \
    "$seconds" "$result" >"$build/fuzz_$target.result"
}

# The targets run side by side, one per core (each is one process on one core), so the step
# takes about FUZZ_SECONDS x targets / cores.
parallel=${FUZZ_JOBS:-$(nproc)}
for target in $targets; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do
    wait -n || true
  done
  echo "== fuzz_$target for ${seconds}s"
  rm -f "$build/fuzz_$target.result"
  run_target "$target" &
done
wait
status=0
summary=()
for target in $targets; do
  line=$(cat "$build/fuzz_$target.result" 2>/dev/null || echo "fuzz_$target did not finish  CRASH")
  if [ "${line##* }" != ok ]; then
    echo "fuzz_$target found a crash: see $build/crashes/ and $build/fuzz_$target.log"
    tail -n 40 "$build/fuzz_$target.log"
    status=1
  fi
  summary+=("$line")
done
echo "== executions per second"
printf '%s\n' "${summary[@]}"
exit $status
