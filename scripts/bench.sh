#!/usr/bin/env bash
# `make bench`: runs every Google Benchmark program in bench/ (JSON results in
# out/bench/) and the end-to-end benchmark scripts (bench/*.sh).
# docs/benchmarks.md quotes these results with the commands that made them.
# Set BENCH_SCRIPTS=0 to skip the end-to-end scripts.
set -euo pipefail
BUILD=${1:-build}
OUT=out/bench
mkdir -p "$OUT"
for b in "$BUILD"/*_bench; do
  [ -x "$b" ] || continue
  name=$(basename "$b")
  echo "== $name"
  "$b" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
       --benchmark_out="$OUT/$name.json" --benchmark_out_format=json
done
if [ "${BENCH_SCRIPTS:-1}" != 0 ]; then
  for s in bench/*.sh; do
    [ -x "$s" ] || continue
    echo "== $s"
    "$s" "$BUILD"
  done
fi
echo "results in $OUT/"
