#!/usr/bin/env bash
# bench/compare_vit.sh — ViT-base image classification (random weights, 224x224, 1000 labels):
# automodel against PyTorch (Debian python3-torch, a plain-torch ViT on the same weights) in
# alternating rounds, images/s at batch 1 and 8; then decode + preprocess + forward per image
# through automodel's image processor. Prints the CPU report first. AM_BENCH_CLOCK=cpu: process CPU
# time instead of wall time (the fair single-thread figure on a shared machine).
# DTYPE bfloat16 compares the bf16 paths (Debian's torch runs float32 matmuls on the reference BLAS,
# which is no fair float32 figure; its bf16 matmuls run on oneDNN).
# usage: bench/compare_vit.sh [BUILD_DIR] [ROUNDS] [RUNS] [THREADS] [DTYPE]   (defaults: build 3 3 1 float32)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}; ROUNDS=${2:-3}; RUNS=${3:-3}; TH=${4:-1}; DT=${5:-float32}
WORK=${AM_BENCH_DIR:-/tmp/am_compare_vit}
PY=/usr/bin/python3 # Debian's, where python3-torch lives
mkdir -p "$WORK"
echo "cpu: $("$BUILD"/automodel --version | sed -n 's/^cpu: //p')"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD"/bench/bench_vit make "$WORK/vit"
"$BUILD"/bench/bench_vit logits "$WORK/vit" "$WORK/out.safetensors"
echo "max |automodel - pytorch| logits: $($PY bench/compare_vit.py check "$WORK/vit" "$WORK/out.safetensors")"
rm -f "$WORK"/res_*
for r in $(seq "$ROUNDS"); do
  for B in 1 8; do
    a=$("$BUILD"/bench/bench_vit time "$WORK/vit" $B $RUNS $TH $DT)
    t=$($PY bench/compare_vit.py time "$WORK/vit" $B $RUNS $TH $DT)
    echo "$a" >> "$WORK/res_am_$B"; echo "$t" >> "$WORK/res_torch_$B"
    echo "round $r batch $B: automodel $a ms, pytorch $t ms"
  done
done
$PY - "$WORK" $TH $DT <<'PYEOF'
import os, statistics, sys
w, th, dt = sys.argv[1], sys.argv[2], sys.argv[3]
clock = "process CPU" if os.environ.get("AM_BENCH_CLOCK") == "cpu" else "wall"
print("\nViT-base 224x224, %s, %s thread(s), median of rounds (%s time):\n" % (dt, th, clock))
print("| batch | automodel ms | images/s | PyTorch ms | images/s | automodel / PyTorch |\n|---|---|---|---|---|---|")
for B in (1, 8):
    a = statistics.median(float(x) for x in open("%s/res_am_%d" % (w, B)))
    t = statistics.median(float(x) for x in open("%s/res_torch_%d" % (w, B)))
    print("| %d | %.1f | %.2f | %.1f | %.2f | %.2f |" % (B, a, B * 1e3 / a, t, B * 1e3 / t, a / t))
PYEOF
IMG=${AM_BENCH_IMAGE:-tests/fixtures/media/img_astronaut.jpg}
echo
echo "one image through automodel ($IMG): $("$BUILD"/bench/bench_vit image "$WORK/vit" "$IMG" 5)"
