#!/usr/bin/env bash
# Runs each libFuzzer target of BUILD_DIR for SECONDS (docs/architecture.md, Tests).
#   scripts/fuzz.sh BUILD_DIR SECONDS TARGET...
# Each target starts from its committed seeds (fuzz/corpus/TARGET, read only)
# and keeps what it learns in BUILD_DIR/fuzz-corpus/TARGET. A crash, leak,
# sanitizer report or slow input stops that target and leaves the input in
# BUILD_DIR/fuzz-artifacts/TARGET/; the other targets still run, and the
# script fails if any target did. Reproduce with BUILD_DIR/TARGET_fuzzer FILE.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$1
seconds=$2
shift 2

# Input size bounds: records are lines, requests and manifests a few KB,
# delta batches a few tables of rows.
max_len() {
  case $1 in
    delta_batch) echo 16384 ;;
    *) echo 4096 ;;
  esac
}

failed=()
for target in "$@"; do
  corpus=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=(-dict="fuzz/$target.dict"); fi
  echo "fuzz: $target for ${seconds}s"
  # -rss_limit_mb bounds memory per input (a decoder that trusts a length
  # field shows up as an out-of-memory crash); -timeout flags an input that
  # takes longer than 10 s.
  if ! "$build/${target}_fuzzer" -max_total_time="$seconds" -max_len="$(max_len "$target")" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "fuzz/corpus/$target" \
      >"$build/fuzz-$target.log" 2>&1; then
    failed+=("$target")
    tail -n 60 "$build/fuzz-$target.log"
    echo "fuzz: $target FAILED; reproducer(s) in $artifacts:" >&2
    ls "$artifacts" >&2
  else
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$build/fuzz-$target.log" |
      sed "s/^/fuzz: $target: /"
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all targets passed"
