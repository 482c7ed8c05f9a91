#!/bin/sh
# Builds tbtrace with its tests (installing the Debian packages they need when missing) and runs
# every test with ctest: C unit tests and busted specs, plain and under ASan+UBSan (TSan for the
# threaded ones), the fuzzers' short pass, and the install, packaging and docs checks.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh test -DBUILD_TESTING=ON -DTBT_SANITIZE=ON -DTBT_FUZZ=ON "$@"
jobs=$(nproc 2>/dev/null || echo 2)
ctest --test-dir build --output-on-failure -j "$jobs" --timeout 300
