#!/usr/bin/env bash
# Installs everything tuna needs to build and test on Debian 12 (run as root).
# Idempotent: a second run only checks.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  build-essential cmake ninja-build ccache mold pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev
  libsqlite3-dev sqlite3
  libcurl4-openssl-dev libssl-dev
  libarchive-dev libtcmalloc-minimal4
  libgtest-dev libgmock-dev libbenchmark-dev
  bubblewrap procps curl python3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all Debian packages present"
fi
