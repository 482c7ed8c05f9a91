#!/bin/sh
# Installs the Debian 12 packages a command needs (when missing) and builds tbtrace into ./build.
# Usage: scripts/setup.sh build|test [extra cmake arguments]
#   build: the libraries, the Lua module and the interpreter
#   test:  also what the test suite needs (busted, clang for the fuzzers, g++, luarocks)
# Compiler output goes to build/build.log; the terminal gets one progress line.
set -eu
cd "$(dirname "$0")/.."

what=${1:-build}
[ $# -gt 0 ] && shift
packages="cmake make gcc pkg-config lua5.4 liblua5.4-dev libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libreadline-dev"
case $what in
  build) ;;
  test) packages="$packages lua-busted gzip clang libclang-rt-14-dev g++ luarocks" ;;
  *) echo "usage: scripts/setup.sh build|test [cmake arguments]" >&2; exit 2 ;;
esac

missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing$missing"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
mkdir -p build
log=build/build.log
if ! cmake -S . -B build "$@" >"$log" 2>&1; then
  cat "$log" >&2
  echo "setup: cmake failed (log: $log)" >&2
  exit 1
fi
if [ -t 1 ]; then tty=1; else tty=0; fi
# Make prints "[ 42%] ..." lines: show the latest figure (on a terminal) instead of the lines.
{ cmake --build build -j "$jobs" >>"$log" 2>&1; echo $? >build/build.rc; } &
pid=$!
if [ $tty = 1 ]; then
  while kill -0 $pid 2>/dev/null; do
    pct=$(grep -o '^\[ *[0-9]*%\]' "$log" | tail -n 1 | tr -dc '0-9')
    printf '\rsetup: building (%s) %3s%%' "$what" "${pct:-0}"
    sleep 1
  done
  printf '\r\033[K'
fi
wait $pid || true
rc=$(cat build/build.rc)
rm -f build/build.rc
if [ "$rc" != 0 ]; then
  grep -E -A5 'error|Error' "$log" | head -n 60 >&2 || true
  echo "setup: build failed (full log: $log)" >&2
  exit 1
fi
echo "setup: built ($what) in build/"
