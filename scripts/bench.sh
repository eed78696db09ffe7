#!/usr/bin/env bash
# `make bench`: runs every benchmark in bench/ and stores JSON results in
# out/bench/. docs/benchmarks.md quotes these with the command that made them.
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
echo "results in $OUT/"
