#!/usr/bin/env bash
# Trainer throughput on the generator's Criteo-shaped stream, the issue's two
# workloads: lr, and deepfm with dim 16 over 39 slots (26 sparse + 13 dense)
# and an MLP of 256-128. Prints the median examples/s of RUNS runs and the
# dense part's achieved GFLOP/s; model_bench prints a plain Eigen GEMM's
# GFLOP/s on the same machine for comparison.
#
#   bench/train_speed.sh [BUILD_DIR] [ROWS] [RUNS]
set -euo pipefail
BUILD=${1:-build}
ROWS=${2:-2000000}
RUNS=${3:-3}
FRESHET=$BUILD/freshet
OUT=out/bench
mkdir -p "$OUT"
DATA=$OUT/criteo_${ROWS}.tsv
[ -f "$DATA" ] || "$FRESHET" gen --kind criteo --rows "$ROWS" --seed 1 --out "$DATA"

run() {
  local name=$1; shift
  local rates=() gflops=()
  for i in $(seq "$RUNS"); do
    "$FRESHET" train --config examples/synthetic.yaml --data "$DATA" "$@" \
      --metrics-json "$OUT/train_$name.json" > /dev/null 2>&1
    rates+=("$(python3 -c "import json;print(json.load(open('$OUT/train_$name.json'))['examples_per_sec'])")")
    gflops+=("$(python3 -c "import json;print(json.load(open('$OUT/train_$name.json'))['dense_gflops'])")")
  done
  python3 - "$name" "${rates[*]}" "${gflops[*]}" <<'PY'
import statistics, sys
name, rates, gflops = sys.argv[1], list(map(float, sys.argv[2].split())), list(map(float, sys.argv[3].split()))
print(f"{name:8s} median {statistics.median(rates):10.0f} examples/s  "
      f"(runs: {', '.join(f'{r:.0f}' for r in rates)})  dense {statistics.median(gflops):6.1f} GFLOP/s")
PY
}

echo "train_speed: $ROWS rows, $RUNS runs each, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
run lr --set model.type=lr --set train.batch_size=1024
run deepfm --set model.type=deepfm --set table_defaults.dim=16 \
  --set 'model.hidden=[256,128]' --set train.batch_size=512
if [ -x "$BUILD/model_bench" ]; then
  "$BUILD/model_bench" --benchmark_filter='gemm' --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true 2>/dev/null | grep -E 'gemm.*median' | head -3
fi
