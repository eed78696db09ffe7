#!/usr/bin/env bash
# The HTTP front end under hostile load, with training running (`freshet run`,
# lr, generated Criteo-shaped stream), requests of 10 candidates:
#   plain   wrk -t2 -c8, no hostile load: throughput and latency
#   crowd   10,000 idle + 100 slow-header connections held open while 256
#           paced clients (10 requests/s each) post and time every answer
#           (bench/hostile_load.cc, one native event loop; CROWD_CLIENT=python
#           runs bench/hostile_client.py hold instead)
#   crowd+wrk  the same crowd, and wrk -c256 closed-loop instead of the
#           paced clients: every one of the 256 connections must be answered
#   bombs   64 connections posting gzip bombs (0.5 MB inflating to 512 MiB)
#           for 20 s at a job whose stream has ended: peak resident memory
#           of the server against max_body_bytes (1 MiB) x connections
#
#   bench/hostile_serve.sh [build] [seconds]            (from the repo root)
# With BASE_FRESHET=path/to/an/older/freshet the same settings run against it
# too, alternately (new, base, base, new), for the ratios.
# Output: one line per binary and setting; raw output in out/bench/.
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-20}
OUT=out/bench
mkdir -p "$OUT"
BODY=$OUT/predict10_body.json

bench/predict_body.sh "$BUILD/freshet" 10 "$BODY"

crowd_client=("$BUILD/hostile_load")
[[ "${CROWD_CLIENT:-native}" == python ]] && crowd_client=(python3 bench/hostile_client.py hold)

PID=""
PORT=""
start_server() {  # binary [rows]
  local port_file=$OUT/hostile.port
  rm -f "$port_file"
  "$1" run --config examples/synthetic.yaml --set model.type=lr \
    --set source.rows="${2:-1000000000}" --http-port 0 --port-file "$port_file" \
    --stale-after-ms 100000000 > "$OUT/hostile_run.out" 2> "$OUT/hostile_run.err" &
  PID=$!
  for _ in $(seq 1 300); do [[ -s "$port_file" ]] && break; sleep 0.1; done
  PORT=$(cat "$port_file")
  sleep 3  # tables filled, pools warm
}
stop_server() {
  kill -TERM "$PID"; wait "$PID" || true
}
train_rate() {
  curl -s -m 5 "http://127.0.0.1:$PORT/metrics" | awk '/^freshet_train_examples_total /{print $2}'
}
rss_kib() {
  awk '/^VmRSS/{print $2}' "/proc/$PID/status"
}

run_binary() {  # label binary
  local label=$1 bin=$2 line
  start_server "$bin"
  FRESHET_PREDICT_BODY=$BODY wrk -t2 -c8 -d"${SECS}s" -s bench/predict.lua \
    "http://127.0.0.1:$PORT/v1/predict" > "$OUT/hostile_${label}_plain.txt"
  line=$(grep '^FRESHET' "$OUT/hostile_${label}_plain.txt")
  echo "hostile/$label plain       ${line#FRESHET }"

  local ex0 ex1
  ex0=$(train_rate)
  timeout $((SECS + 120)) "${crowd_client[@]}" --port "$PORT" --body "$BODY" \
    --seconds "$SECS" > "$OUT/hostile_${label}_crowd.json" || echo '{"error": "client failed"}' > "$OUT/hostile_${label}_crowd.json"
  ex1=$(train_rate)
  echo "hostile/$label crowd       $(cat "$OUT/hostile_${label}_crowd.json")  train_examples_during $(echo "${ex1:-0} - ${ex0:-0}" | bc)"

  timeout $((SECS + 120)) python3 bench/hostile_client.py hold --port "$PORT" --body "$BODY" \
    --clients 1 --rate 1 --seconds $((SECS + 6)) > "$OUT/hostile_${label}_crowd_wrk_hold.json" &
  local hold=$!
  sleep 4
  FRESHET_PREDICT_BODY=$BODY timeout $((SECS + 30)) wrk -t2 -c256 -d"${SECS}s" --timeout 5s \
    -s bench/predict.lua "http://127.0.0.1:$PORT/v1/predict" \
    > "$OUT/hostile_${label}_crowd_wrk.txt" || true
  wait "$hold" || true
  line=$(grep '^FRESHET' "$OUT/hostile_${label}_crowd_wrk.txt" || echo "FRESHET no result")
  echo "hostile/$label crowd+wrk   ${line#FRESHET }  $(grep -o 'Socket errors.*' "$OUT/hostile_${label}_crowd_wrk.txt" || echo 'socket errors none')"
  stop_server

  # Bombs against a job whose stream has ended: training's own growth would
  # hide the server's memory. The base binary inflated each bomb whole
  # (537 MB, 1.1 GB peak), so it gets BASE_BOMB_CONNS connections (2) only.
  local conns=64
  [[ "$label" == base ]] && conns=${BASE_BOMB_CONNS:-2}
  start_server "$bin" 100000
  for _ in $(seq 1 300); do
    curl -s -m 5 "http://127.0.0.1:$PORT/statusz" | grep -q '"done": true' && break
    sleep 0.3
  done
  sleep 1
  local rss0 peak=0 r
  rss0=$(rss_kib)
  timeout $((SECS + 120)) python3 bench/hostile_client.py bombs --port "$PORT" --conns "$conns" \
    --seconds "$SECS" > "$OUT/hostile_${label}_bombs.json" &
  local bomber=$!
  while kill -0 "$bomber" 2> /dev/null; do
    r=$(rss_kib || echo 0)
    [[ -n "$r" && "$r" -gt "$peak" ]] && peak=$r
    sleep 0.1
  done
  wait "$bomber" || true
  echo "hostile/$label bombs       rss_before_mib $((rss0 / 1024)) rss_peak_mib $((peak / 1024))  $(cat "$OUT/hostile_${label}_bombs.json")"
  stop_server
}

run_binary new "$BUILD/freshet"
if [[ -n "${BASE_FRESHET:-}" ]]; then
  run_binary base "$BASE_FRESHET"
  run_binary base "$BASE_FRESHET"
  run_binary new "$BUILD/freshet"
fi
