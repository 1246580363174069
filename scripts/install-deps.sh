#!/usr/bin/env bash
# Installs the Debian packages Caravan needs.
#   scripts/install-deps.sh          everything: build, run and test (scripts/test.sh, CI)
#   scripts/install-deps.sh --build  only what building and running needs (scripts/demo.sh: a
#                                    newcomer does not wait for LibreOffice or clang)
# Idempotent and quiet: skips apt entirely when everything is already present.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git ccache
  lld                                  # a faster linker (used when present)
  libsqlite3-dev
  libcurl4-openssl-dev libssl-dev
  nlohmann-json3-dev libcpp-httplib-dev libbrotli-dev
  catch2 libcli11-dev libexpected-dev
  libexif-dev libsodium-dev libxlsxwriter-dev libzstd-dev zlib1g-dev
  libzip-dev libexpat1-dev
  libmstch-dev                         # the app's page templates (mustache)
  libpq-dev                            # the server's PostgreSQL store
)
if [ "${1:-}" != --build ]; then
  packages+=(
    sqlite3 openssl                      # tests drive the sqlite3 shell and openssl s_client
    python3 python3-openpyxl             # XLSX read back in tests
    libreoffice-calc-nogui poppler-utils # exports printed to PDF and read back
    clang-14 libclang-rt-14-dev          # libFuzzer targets
    chromium chromium-driver python3-selenium # the app's pages in a real browser
    postgresql                           # throwaway clusters for the PostgreSQL store's tests
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${#missing[@]} Debian packages (${missing[*]}); this takes a few minutes on a fresh machine" >&2
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
