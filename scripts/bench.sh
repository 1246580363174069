#!/bin/sh
# Builds the benchmarks in Release (build-bench/) and runs them all. They print figures and
# never assert timings; docs/performance.md records a run and explains the figures.
#
#   scripts/bench.sh            # full sizes (each program runs well under 2 minutes, except
#                               # sync_bench: its month over a 64 kbit/s link takes ~15 minutes,
#                               # and dashboard_bench: generating 1,000,000 events takes minutes)
#   scripts/bench.sh --quick    # small sizes, to check that everything runs
#
# Environment: BUILD_DIR (default build-bench), TMPDIR (where the scratch databases go: use
# the disk the device would use, fsync cost is part of the figures).
# shellcheck disable=SC2086 # the size lists below are meant to split into arguments
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}

launcher=""
if command -v ccache >/dev/null 2>&1; then
  launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCARAVAN_TESTS=OFF \
  -DCARAVAN_BENCH=ON $launcher >/dev/null
if ! ninja -C "$build" caravan caravan-server bench_record bench_bulk bench_list_memory \
  bench_import server_ingest_bench store_ingest_bench sync_bench dashboard_bench \
  >"$build/bench-build.log" 2>&1; then
  cat "$build/bench-build.log"
  exit 1
fi

if [ "${1:-}" = "--quick" ]; then
  record_args="100 20"; bulk_args="10000 1000"; list_args="10000 2"; import_args="10000"
  ingest_args="10 5 50"; sync_args="--quick"; dashboard_args="20000 2 4"
else
  record_args="500 100"; bulk_args="100000 1000"; list_args="100000 3"; import_args="100000"
  ingest_args="50 20 100"; sync_args=""; dashboard_args="1000000 5 20"
fi

export CARAVAN_EXE="$build/cli/caravan"
echo "caravan $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), Release build in $build"
"$build/bench/bench_record" $record_args
"$build/bench/bench_bulk" $bulk_args
"$build/bench/bench_list_memory" $list_args
"$build/bench/bench_import" $import_args
"$build/bench/server_ingest_bench" $ingest_args
"$build/bench/store_ingest_bench" $ingest_args
"$build/bench/dashboard_bench" $dashboard_args
"$build/bench/sync_bench" $sync_args all
