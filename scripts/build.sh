#!/usr/bin/env bash
# Configures and builds Caravan.
# Usage: scripts/build.sh [BUILD_DIR] [cmake args...]
#   CARAVAN_TARGETS="caravan caravan-server" builds only those targets (default: everything).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$here/build"}
shift || true
launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the cache.
  export CCACHE_BASEDIR="$here" CCACHE_NOHASHDIR=true
  # Without these ccache declines every file compiled with a precompiled header (cmake/pch.cmake).
  export CCACHE_SLOPPINESS=pch_defines,time_macros
fi
# The build type is chosen when the directory is first configured (Debug unless
# CARAVAN_BUILD_TYPE says otherwise); later runs keep it, so the demo and the tests share builds.
type=()
if [ ! -f "$build/CMakeCache.txt" ] || [ -n "${CARAVAN_BUILD_TYPE:-}" ]; then
  type=(-DCMAKE_BUILD_TYPE="${CARAVAN_BUILD_TYPE:-Debug}")
fi
cmake -S "$here" -B "$build" -G Ninja "${type[@]}" "${launcher[@]}" "$@" >/dev/null
read -r -a targets <<<"${CARAVAN_TARGETS:-}"
if [ -t 1 ]; then
  # On a terminal ninja keeps one progress line ([done/total] file) up to date.
  ninja -C "$build" "${targets[@]}"
else
  ninja -C "$build" --quiet "${targets[@]}" 2>/dev/null || ninja -C "$build" "${targets[@]}"
fi
