#!/usr/bin/env bash
# The demo behind `make demo`: generates a Criteo-shaped stream with the
# built-in generator and runs the main job on it.
set -euo pipefail
FRESHET=${1:-build/freshet}
OUT=${DEMO_OUT:-out/demo}
ROWS=${DEMO_ROWS:-200000}
mkdir -p "$OUT"

echo "== freshet gen: $ROWS Criteo-shaped rows into $OUT/criteo.tsv"
"$FRESHET" gen --kind criteo --rows "$ROWS" --seed 1 --out "$OUT/criteo.tsv"

echo
echo "== freshet stats on the generated stream"
"$FRESHET" stats --config examples/synthetic.yaml --data "$OUT/criteo.tsv"
