#!/bin/sh
# Builds the Debian package of tbtrace (libraries, headers, pkg-config and CMake files, the Lua
# module in Debian's Lua 5.4 directory, the tbtrace interpreter) with CPack.
# Usage: scripts/package.sh [output dir]   (default: build-deb/)
# Build dir: $TBT_DEB_BUILD (default build-deb/). Install: apt-get install ./tbtrace_*.deb
set -eu
cd "$(dirname "$0")/.."
out=${1:-build-deb}
bdir=${TBT_DEB_BUILD:-build-deb}
mkdir -p "$bdir"
log=$bdir/package.log
cmake -S . -B "$bdir" -DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DBUILD_TESTING=OFF >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
cmake --build "$bdir" -j "$(nproc 2>/dev/null || echo 2)" >>"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
log=$(cd "$bdir" && pwd)/package.log
(cd "$bdir" && cpack -G DEB -B "$out" >>"$log" 2>&1) || { tail -n 40 "$log" >&2; exit 1; }
rm -rf "$out/_CPack_Packages"
for f in "$out"/tbtrace_*.deb; do echo "package: $f"; done
