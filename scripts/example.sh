#!/bin/sh
# Builds what the example needs (the Lua module and the tbtrace interpreter, installing their
# Debian packages when missing) and runs the example experiment driver, which writes a new
# TensorBoard run folder.
# Usage: scripts/example.sh [logdir]   (default: logs/example/run-<date>-<time>)
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh build -DBUILD_TESTING=OFF

if [ $# -gt 0 ]; then
  logdir=$1
  if [ -d "$logdir" ] && [ -n "$(ls -A "$logdir")" ]; then
    echo "example: $logdir already holds files; name a new folder (or remove it first)" >&2
    exit 1
  fi
else
  base=logs/example/run-$(date +%Y%m%d-%H%M%S)
  logdir=$base
  n=1
  while [ -e "$logdir" ]; do n=$((n + 1)); logdir=$base-$n; done
fi

echo "example: running scripts/examples/experiment.lua into $logdir"
build/tbtrace scripts/examples/experiment.lua "$logdir"
parent=$(dirname "$logdir")
cat <<MSG

Written: $logdir (events in train/, profile files in train/plugins/profile/)
Next:
  build/tbtrace ls $logdir
      lists its runs and tags, with a sparkline per scalar
  build/tbtrace cat $logdir
      prints the events as JSON lines, checking every checksum
  tensorboard --logdir $parent
      shows this run next to earlier ones, where TensorBoard is installed
  https://ui.perfetto.dev
      opens $logdir/train/plugins/profile/*/*.trace.json.gz as a timeline
MSG
