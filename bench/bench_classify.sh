#!/usr/bin/env bash
# bench/bench_classify.sh — end-to-end `automodel classify --input-file` on the sms-spam-bert test
# split (1,114 texts; process start, model load, tokenizing, batched forward, JSON out) at
# AM_NUM_THREADS=1 and 2, best of N runs; then the in-process numbers from bench_classify.
# usage: bench/bench_classify.sh [BUILD_DIR] [runs]   (from the repository root)
set -euo pipefail
build=${1:-build}
runs=${2:-5}
texts=$(mktemp)
trap 'rm -f "$texts"' EXIT
cut -f2- models/sms-spam-bert/test.tsv > "$texts"
n=$(wc -l < "$texts")
for t in 1 2; do
  best=
  for _ in $(seq "$runs"); do
    s=$(date +%s.%N)
    AM_NUM_THREADS=$t AM_LOG_LEVEL=error "$build/automodel" classify models/sms-spam-bert --input-file "$texts" > /dev/null
    e=$(date +%s.%N)
    d=$(echo "$e - $s" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$d < $best" | bc -l)" = 1 ]; then best=$d; fi
  done
  printf 'CLI, AM_NUM_THREADS=%d: %.3f s for %d texts = %.0f texts/s (whole process, best of %d)\n' "$t" "$best" "$n" "$(echo "$n / $best" | bc -l)" "$runs"
done
"$build/bench/bench_classify" models/sms-spam-bert "$runs"
