#!/usr/bin/env bash
# The main job end to end, on this machine only (127.0.0.1):
#   install packages, build, start the central server with its embedded SQLite store, enroll a
#   lawyer's laptop, record a caravan visit OFFLINE (server stopped), bring the link back, sync,
#   show what the server received, and export the region's consultation journal.
# Everything is written under a fresh work directory (printed at the start; kept afterwards).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${CARAVAN_DEMO_BIN:-}" ]; then
  # CTest runs the demo on the binaries it built (tests/CMakeLists.txt): no install, no build.
  bin=$CARAVAN_DEMO_BIN
else
  echo "== 0. packages and build (only the two programs the demo runs; the test suite is not built)"
  "$here/scripts/install-deps.sh" --build
  if [ ! -x "$here/build/cli/caravan" ]; then
    echo "building caravan and caravan-server in $here/build (a first build takes about 4 minutes on 2 cores)"
  fi
  # Same configuration as scripts/test.sh, so the test command reuses this build.
  CARAVAN_TARGETS="caravan caravan-server" "$here/scripts/build.sh" "$here/build" -DCARAVAN_WERROR=ON
  bin="$here/build/cli"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/caravan-demo-XXXXXX")
echo "== work directory: $work"
mkdir -p "$work/laptop"   # `caravan init` creates the database, never a missing directory
export CARAVAN_DB="$work/laptop/caravan.db"
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

start_server() {
  : > "$work/server.out"
  "$bin/caravan-server" serve --data "$work/server" --listen "127.0.0.1:${port:-0}" \
      >"$work/server.out" 2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$work/server.out" 2>/dev/null; then break; fi
    sleep 0.05
  done
  addr=$(sed -n 's/^listening on //p' "$work/server.out" | head -n1)
  [ -n "$addr" ] || { echo "server did not start:"; cat "$work/server.log"; exit 1; }
  port=${addr##*:}
}

echo "== 1. coordinator starts the central server and makes an enrollment code"
start_server
echo "server at http://$addr (data in $work/server)"
code=$("$bin/caravan-server" enroll-code --data "$work/server" \
        --lawyer "Арнат Ұлтанбаев" --region "Ақтөбе обл." | tail -n1)
echo "enrollment code: $code"

echo "== 2. the lawyer's laptop: init and enroll while online"
"$bin/caravan" init --lawyer "Арнат Ұлтанбаев" --region "Ақтөбе обл."
"$bin/caravan" enroll --server "http://$addr" --code "$code"

echo "== 3. the link goes down; the visit is recorded offline"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
"$bin/caravan" village add "Қызылжар" --region "Ақтөбе обл." --district "Мұғалжар ауданы"
"$bin/caravan" visit start --village "Қызылжар" --date 2024-05-14
"$bin/caravan" attend add --gender female --age 33-45 --category unemployed --vulnerable --count 14
"$bin/caravan" attend add --gender male --age 59+ --category older --count 9
"$bin/caravan" consult add --gender female --age 33-45 --category unemployed --vulnerable \
    --topic land --topic inheritance --outcome case --follow-up --lang kk \
    --question "Жер үлесін мұрагерлікке ресімдеу" --advice "Нотариусқа өтініш үлгісі дайындалды"
"$bin/caravan" consult add --gender male --age 59+ --category older --topic benefits \
    --outcome advice --lang ru --question "Перерасчёт пенсии" --advice "Обратиться в ЦОН"
"$bin/caravan" survey add --respondents 20 --satisfied 19
printf 'demo photo bytes %s' "$(date +%s%N)" > "$work/IMG_0001.jpg"
"$bin/caravan" photo add "$work/IMG_0001.jpg" --caption "Кеңес беру" --consent
"$bin/caravan" visit close
if "$bin/caravan" sync; then echo "unexpected: sync succeeded while offline"; exit 1; else
  echo "(sync while offline failed as expected, exit $?; nothing is lost)"; fi
"$bin/caravan" status

echo "== 4. the link is back: sync"
start_server
"$bin/caravan" sync
"$bin/caravan" sync --verify

echo "== 5. what the server holds"
"$bin/caravan-server" devices --data "$work/server"

echo "== 6. the coordinator exports the region's consultation journal"
"$bin/caravan" export journal --region "Ақтөбе обл." --format csv -o "$work/aktobe.csv" --lang kk
"$bin/caravan" export journal --region "Ақтөбе обл." --format xlsx -o "$work/aktobe.xlsx" --lang kk
cat "$work/aktobe.csv"
echo
echo "== done: journal in $work/aktobe.csv and $work/aktobe.xlsx"
echo "   the same records in the lawyer's app (Ctrl+C stops it):"
echo "   CARAVAN_DB=$CARAVAN_DB $bin/caravan ui"
