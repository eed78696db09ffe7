#!/usr/bin/env bash
# The demo behind `make demo`: generates a Criteo-shaped stream with the
# built-in generator, looks at it, trains the demo model on it in one pass
# with progressive validation, then runs the embedded pipeline (train + sync +
# serve over HTTP) for about a minute and queries it with curl
# (scripts/demo_run.sh).
set -euo pipefail
FRESHET=${1:-build/freshet}
OUT=${DEMO_OUT:-out/demo}
ROWS=${DEMO_ROWS:-300000}
mkdir -p "$OUT"

echo "== freshet gen: $ROWS Criteo-shaped rows into $OUT/criteo.tsv"
"$FRESHET" gen --kind criteo --rows "$ROWS" --seed 1 --out "$OUT/criteo.tsv"

echo
echo "== freshet stats: what is in the stream"
"$FRESHET" stats --config examples/synthetic.yaml --data "$OUT/criteo.tsv" --top 2

echo
echo "== freshet train: deepfm, one pass, every example scored before it is trained on"
"$FRESHET" train --config examples/synthetic.yaml --data "$OUT/criteo.tsv" \
  --metrics-json "$OUT/metrics.json"
echo
echo "metrics: $OUT/metrics.json"

echo
"$(dirname "$0")/demo_run.sh" "$FRESHET"
