#!/bin/sh
# Installs what tbtrace needs on Debian 12 (when missing) and builds it into ./build.
# Usage: scripts/setup.sh [extra cmake arguments]
set -eu
cd "$(dirname "$0")/.."

packages="cmake make gcc pkg-config lua5.4 liblua5.4-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev lua-busted libreadline-dev gzip clang libclang-rt-14-dev"
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build "$@" >/dev/null
cmake --build build -j "$jobs"
