#!/usr/bin/env bash
# The embedded pipeline demo: `freshet run` trains the demo model on the
# built-in generator while serving it over HTTP with sub-second sync, for
# about a minute. Midway it sends a prediction with curl and prints the
# answer; at the end it prints the freshness percentiles.
#
#   scripts/demo_run.sh [path/to/freshet]
#   DEMO_RUN_S=60 DEMO_SYNC_MS=1000 scripts/demo_run.sh build/freshet
set -euo pipefail
FRESHET=${1:-build/freshet}
OUT=${DEMO_OUT:-out/demo}
SECONDS_TO_RUN=${DEMO_RUN_S:-60}
SYNC_MS=${DEMO_SYNC_MS:-1000}
mkdir -p "$OUT"
rm -f "$OUT/run.port"

echo "== freshet run: train deepfm on the generator and serve it on 127.0.0.1 for ${SECONDS_TO_RUN}s (sync every ${SYNC_MS} ms)"
"$FRESHET" run --config examples/synthetic.yaml --set source.rows=100000000 \
  --http-port 0 --port-file "$OUT/run.port" --sync-interval-ms "$SYNC_MS" \
  --duration-s "$SECONDS_TO_RUN" --freshness-json "$OUT/freshness.json" \
  > "$OUT/run.out" 2> "$OUT/run.err" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do
  [[ -s "$OUT/run.port" ]] && break
  if ! kill -0 $PID 2>/dev/null; then cat "$OUT/run.err"; exit 1; fi
  sleep 0.1
done
PORT=$(cat "$OUT/run.port")
URL="http://127.0.0.1:$PORT"
echo "serving on $URL"

sleep $(( SECONDS_TO_RUN / 2 ))
BODY='{"context": {"C1": "68b0e8cf", "C2": "e7f71e0f", "I1": 1, "I2": 5},
       "candidates": [{"C3": "1b36dc39", "C4": "b8804019"},
                      {"C3": "0c9301ec", "C4": "393a9098"},
                      {"C3": "never-seen", "C4": "never-seen"}]}'
echo
echo "== curl -X POST $URL/v1/predict -d '$(echo "$BODY" | tr -s ' \n' ' ')'"
curl -sS -X POST "$URL/v1/predict" -H 'Content-Type: application/json' -d "$BODY"
echo
echo
echo "== curl $URL/statusz (excerpt)"
curl -sS "$URL/statusz" | grep -E '"(model_version|staleness_ms|degradation|examples|auc|rows_applied|freshness_p50_ms|freshness_p99_ms)"' || true
echo
echo "== a few lines of $URL/metrics"
curl -sS "$URL/metrics" | grep -E '^freshet_(train_examples_per_second|train_window_auc|serving_model_version|sync_freshness_seconds_count|sync_published_bytes_total) ' || true

wait $PID
trap - EXIT
echo
echo "== summary"
cat "$OUT/run.out"
echo
echo "freshness (update entering the trainer → applied in serving): $(tr -d '\n ' < "$OUT/freshness.json")"
