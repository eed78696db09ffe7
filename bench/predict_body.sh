#!/usr/bin/env bash
# Writes a /v1/predict body of N candidates from generated Criteo-shaped
# records: one context (C1, C2 and I1..I13 of the first record) and, per
# candidate, C3..C26 of a record.
#
#   bench/predict_body.sh FRESHET N OUT.json
set -euo pipefail
FRESHET=$1
N=$2
BODY=$3
ROWS=${BODY%.json}_rows.tsv
"$FRESHET" gen --kind criteo --rows "$N" --seed 99 --out "$ROWS" > /dev/null
awk -F'\t' '
  NR == 1 {
    printf "{\"context\": {\"C1\": \"%s\", \"C2\": \"%s\"", $15, $16
    for (i = 2; i <= 14; i++) if ($i != "") printf ", \"I%d\": %s", i - 1, $i
    printf "}, \"candidates\": ["
  }
  {
    printf "%s{", (NR > 1 ? ", " : "")
    sep = ""
    for (i = 17; i <= 40; i++) if ($i != "") { printf "%s\"C%d\": \"%s\"", sep, i - 14, $i; sep = ", " }
    printf "}"
  }
  END { printf "]}\n" }' "$ROWS" > "$BODY"
