#!/usr/bin/env bash
# Serving latency and throughput of `freshet run` measured with wrk: POST
# /v1/predict with 100 candidates (one context: C1, C2 and I1..I13; each
# candidate: C3..C26 of a generated record), for lr and deepfm, in four
# settings:
#   idle        the stream has ended: no training, sync sends heartbeats only
#   train       training at full speed, sync effectively off (interval 1 h)
#   train+sync1s     training, sync every 1 s
#   train+sync100ms  training, sync every 100 ms
# "sync cost" = 1 - rps(train+sync) / rps(train): the share of serving
# throughput that sync takes, with training running in both.
#
#   bench/serve_bench.sh [build] [seconds per run]      (from the repo root)
# Output: one line per model and setting; raw wrk output in out/bench/.
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-15}
FRESHET=$BUILD/freshet
OUT=out/bench
mkdir -p "$OUT"
BODY=$OUT/predict_body.json
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-8}

# The request body: 100 candidates from generated Criteo-shaped records.
bench/predict_body.sh "$FRESHET" 100 "$BODY"

run_setting() {  # model setting rows sync_ms
  local model=$1 setting=$2 rows=$3 sync_ms=$4
  local port_file=$OUT/serve_bench.port
  rm -f "$port_file"
  "$FRESHET" run --config examples/synthetic.yaml --set model.type="$model" \
    --set source.rows="$rows" --http-port 0 --port-file "$port_file" \
    --sync-interval-ms "$sync_ms" --stale-after-ms 100000000 \
    > "$OUT/serve_bench_run.out" 2> "$OUT/serve_bench_run.err" &
  local pid=$!
  for _ in $(seq 1 300); do [[ -s "$port_file" ]] && break; sleep 0.1; done
  local port
  port=$(cat "$port_file")
  if [[ "$setting" == idle ]]; then
    # Wait until the stream has ended and the final model is served.
    for _ in $(seq 1 600); do
      curl -s "http://127.0.0.1:$port/statusz" | grep -q '"done": true' && break
      sleep 0.5
    done
  fi
  sleep 3  # warm up: tables filled, JIT-free but caches and pools warm
  local ex0
  ex0=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^freshet_train_examples_total /{print $2}')
  FRESHET_PREDICT_BODY=$BODY wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"${SECS}s" \
    -s bench/predict.lua "http://127.0.0.1:$port/v1/predict" \
    > "$OUT/wrk_${model}_${setting}.txt"
  local ex1
  ex1=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^freshet_train_examples_total /{print $2}')
  kill -TERM $pid; wait $pid || true
  local line
  line=$(grep '^FRESHET' "$OUT/wrk_${model}_${setting}.txt")
  printf "serve/%-7s %-16s %s  train_ex_per_s %.0f\n" "$model" "$setting" \
    "${line#FRESHET }" "$(echo "($ex1 - $ex0) / $SECS" | bc -l)"
}

for model in lr deepfm; do
  run_setting "$model" idle 100000 1000
  run_setting "$model" train 100000000 3600000
  run_setting "$model" train+sync1s 100000000 1000
  run_setting "$model" train+sync100ms 100000000 100
done
